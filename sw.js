// Tether's service worker: shows the relay's Web Push ("waiting for you")
// as a notification and opens the session when it is clicked. The push is
// {"title", "body", "url": "/s/ID", "session_id"} (README, "Needs you").
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let push = {};
  try { push = event.data ? event.data.json() : {}; } catch (_) { push = {}; }
  const url = typeof push.url === 'string' && push.url.startsWith('/') ? push.url : '/';
  const title = push.title || 'Tether';
  event.waitUntil(self.registration.showNotification(title, {
    body: push.body ? String(push.body) : 'waiting for you',
    // One notification per session: the open dashboard uses the same tag.
    tag: 'tether-wait-' + (push.session_id || url),
    icon: '/icons/icon-192.png',
    data: { url },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL(event.notification.data && event.notification.data.url || '/', self.location.origin).href;
  event.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
    const open = windows.find((w) => w.url.split('#')[0] === url);
    return open ? open.focus() : self.clients.openWindow(url);
  }));
});
