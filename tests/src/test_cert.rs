//! Certificates and keys for TLS in tests, for `localhost` and 127.0.0.1,
//! valid until 2126, protecting nothing: a self-signed one (a TLS front for
//! the relay, trusted by skipping verification) and a server certificate
//! signed by a test CA (a PostgreSQL server that requires TLS, verified
//! against [`CA_PEM`]; a verifier refuses a CA certificate as a server's).
//! Made with `openssl req` / `openssl x509 -req` (P-256).

/// The certificate, for `localhost` / 127.0.0.1 (made with
/// `openssl req -x509 -newkey ec …`).
pub const CERT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUYiqqlYz3jDseZW1JyNfffLwWLKkwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNzIyMTA0NloYDzIxMjYxMTAz
MjIxMDQ2WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAR7kDrsWRnNnq/jKkwpkbyAm8XNy1ovmGFqQ/deVUrsPjFfM5uudogA
CEq5I8ndL/fOoMhcmSOXmXRSttbn4aL0o28wbTAdBgNVHQ4EFgQUAto+f8EhKLzy
9mMKd7se29EMJGcwHwYDVR0jBBgwFoAUAto+f8EhKLzy9mMKd7se29EMJGcwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIhANfuxDbjTx/Y87hi57gFhbveYWVQ/9o5lbNbWChJnz11AiB/
5W6j0B+ltl3HC58JZNLPV+koj8qjT4m3C82g3cniQg==
-----END CERTIFICATE-----
";
/// Its private key (PKCS#8).
pub const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAaGEJaWlH0w+oQ4I
CvA7ZLyx+9SiXE+88AOxohB07bOhRANCAAR7kDrsWRnNnq/jKkwpkbyAm8XNy1ov
mGFqQ/deVUrsPjFfM5uudogACEq5I8ndL/fOoMhcmSOXmXRSttbn4aL0
-----END PRIVATE KEY-----
";

/// The test CA's certificate: what a client is told to trust.
pub const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBmDCCAT+gAwIBAgIULZnDJasmfvIUHnBG4wnrLtUiR/AwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOdGV0aGVyIHRlc3QgQ0EwIBcNMjYxMjAyMDQxODAzWhgPMjEy
NjExMDgwNDE4MDNaMBkxFzAVBgNVBAMMDnRldGhlciB0ZXN0IENBMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEwqBRbv/FrEETcIGWBh0v1x4imnPYjvPS/cpPQ8eW
O6LmD55WwvGEdMOZ48uraa5zFmrJawy09DA6wcd9b08aeKNjMGEwHQYDVR0OBBYE
FEYDStK9qHQ1O50ySFQ2wIZR8yuYMB8GA1UdIwQYMBaAFEYDStK9qHQ1O50ySFQ2
wIZR8yuYMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMAoGCCqGSM49
BAMCA0cAMEQCIDJSG+EfTCQgU+J7oBlVrgI7pm3M7R99dXQLv+nz0sNAAiBGFfaQ
FU3goP9ipm3pfIBmqrnMzRjH0yDzIl8MvX6vvA==
-----END CERTIFICATE-----
";

/// A server certificate for `localhost` / 127.0.0.1 signed by [`CA_PEM`].
pub const SERVER_CERT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBwTCCAWegAwIBAgIUS7R1mtRosHpB4Y1G/J3qsSL9ebMwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOdGV0aGVyIHRlc3QgQ0EwIBcNMjYxMjAyMDQxODA1WhgPMjEy
NjExMDgwNDE4MDVaMBQxEjAQBgNVBAMMCWxvY2FsaG9zdDBZMBMGByqGSM49AgEG
CCqGSM49AwEHA0IABHqa+XjPR3uGsZm1y2Ta8D2XzcVKCO6Cf63+nbP0kbZiCrAB
Mzzf/UNu5fGL+hWpzxUBnxyojUN0tH3aHB3n0v+jgY8wgYwwCQYDVR0TBAIwADAO
BgNVHQ8BAf8EBAMCB4AwEwYDVR0lBAwwCgYIKwYBBQUHAwEwGgYDVR0RBBMwEYIJ
bG9jYWxob3N0hwR/AAABMB0GA1UdDgQWBBSbHmNmEu592W49T7REEZYBRxJz0TAf
BgNVHSMEGDAWgBRGA0rSvah0NTudMkhUNsCGUfMrmDAKBggqhkjOPQQDAgNIADBF
AiEA6HI0OTJudH8Fi4oIOamb0c5Je7NVPPS3oShsdwOlK0QCIEhEIuTWeGzUJWRD
Vj5M2sD9/Dg0f7zGjkhwAk5hC1ig
-----END CERTIFICATE-----
";

/// Its private key (PKCS#8).
pub const SERVER_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgw9WYw1kGPR6nKblr
zY6vlh37Ph0VuxZjhVKukf1KuLShRANCAAR6mvl4z0d7hrGZtctk2vA9l83FSgju
gn+t/p2z9JG2YgqwATM83/1DbuXxi/oVqc8VAZ8cqI1DdLR92hwd59L/
-----END PRIVATE KEY-----
";
