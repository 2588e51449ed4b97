//! [`command_queue`]: what viewers ask of the agent's link, bounded in
//! bytes — an agent that stops reading holds at most that much, however
//! many viewers type.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{AgentCommand, SendError};

/// Most commands queued, whatever their size.
const MAX_COMMANDS: usize = 256;

/// What a queued command counts besides its payload (so that empty INPUT
/// frames are not free).
const COMMAND_OVERHEAD: usize = 64;

/// The bytes `command` counts in the queue.
fn cost(command: &AgentCommand) -> usize {
    COMMAND_OVERHEAD
        + match command {
            AgentCommand::Input(data) => data.len(),
            AgentCommand::Resize(_) => 4,
            AgentCommand::Close(_) | AgentCommand::SizeReleased => 0,
        }
}

/// A queue of commands holding at most `max_bytes` (and 256 commands).
pub(crate) fn command_queue(max_bytes: usize) -> (CommandSender, CommandReceiver) {
    let (tx, rx) = mpsc::channel(MAX_COMMANDS);
    let queued = Arc::new(AtomicUsize::new(0));
    (
        CommandSender {
            tx,
            queued: queued.clone(),
            max_bytes,
        },
        CommandReceiver { rx, queued },
    )
}

/// The session's end of the queue.
#[derive(Debug, Clone)]
pub(crate) struct CommandSender {
    tx: mpsc::Sender<AgentCommand>,
    queued: Arc<AtomicUsize>,
    max_bytes: usize,
}

impl CommandSender {
    /// Queues `command` without waiting: [`SendError::Busy`] when the queue
    /// holds too much already, [`SendError::Offline`] when the link is gone.
    pub(super) fn try_send(&self, command: AgentCommand) -> Result<(), SendError> {
        let cost = cost(&command);
        let max = self.max_bytes;
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued + cost <= max).then_some(queued + cost)
            })
            .map_err(|_| SendError::Busy)?;
        self.tx.try_send(command).map_err(|e| {
            self.queued.fetch_sub(cost, Ordering::AcqRel);
            match e {
                mpsc::error::TrySendError::Full(_) => SendError::Busy,
                mpsc::error::TrySendError::Closed(_) => SendError::Offline,
            }
        })
    }

    /// Asks the link to close, past the byte bound (a close is tiny and
    /// must get through); dropped only if the queue is full of commands.
    pub(super) fn close(&self, command: AgentCommand) {
        let cost = cost(&command);
        self.queued.fetch_add(cost, Ordering::AcqRel);
        if self.tx.try_send(command).is_err() {
            self.queued.fetch_sub(cost, Ordering::AcqRel);
        }
    }
}

/// The agent link's end of the queue.
#[derive(Debug)]
pub(crate) struct CommandReceiver {
    rx: mpsc::Receiver<AgentCommand>,
    queued: Arc<AtomicUsize>,
}

impl CommandReceiver {
    /// The next command; `None` once every sender is gone. Cancel-safe.
    pub(crate) async fn recv(&mut self) -> Option<AgentCommand> {
        let command = self.rx.recv().await?;
        self.queued.fetch_sub(cost(&command), Ordering::AcqRel);
        Some(command)
    }

    /// The next command if one is queued (for tests).
    #[cfg(test)]
    pub(crate) fn try_recv(&mut self) -> Option<AgentCommand> {
        let command = self.rx.try_recv().ok()?;
        self.queued.fetch_sub(cost(&command), Ordering::AcqRel);
        Some(command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::CloseCause;

    #[test]
    fn holds_at_most_its_bytes_however_the_input_is_cut() {
        let (tx, mut rx) = command_queue(1000);
        let big = AgentCommand::Input(vec![b'x'; 600]);
        tx.try_send(big.clone()).unwrap();
        assert_eq!(tx.try_send(big.clone()), Err(SendError::Busy));
        // Empty frames count too: no unbounded pile of them.
        let mut empty = 0;
        while tx.try_send(AgentCommand::Input(Vec::new())).is_ok() {
            empty += 1;
        }
        assert_eq!(empty, (1000 - 664) / 64);
        assert_eq!(rx.try_recv(), Some(big.clone()));
        tx.try_send(big).unwrap();
    }

    #[test]
    fn a_close_gets_through_a_full_queue_and_a_gone_link_is_offline() {
        let (tx, mut rx) = command_queue(100);
        tx.try_send(AgentCommand::Input(vec![0; 30])).unwrap();
        tx.close(AgentCommand::Close(CloseCause::Replaced));
        assert!(matches!(rx.try_recv(), Some(AgentCommand::Input(_))));
        assert_eq!(
            rx.try_recv(),
            Some(AgentCommand::Close(CloseCause::Replaced))
        );
        drop(rx);
        assert_eq!(
            tx.try_send(AgentCommand::Input(vec![])),
            Err(SendError::Offline)
        );
    }
}
