//! `tether-relay`: flags → [`relay_dev::Server`], or the `keys` commands.
#![forbid(unsafe_code)]

use std::io::{IsTerminal as _, Write as _};

use anyhow::Context as _;
use clap::Parser as _;
use relay_dev::config::{Cli, Command, Config};

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TETHER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Keys(command)) => relay_dev::run_keys_command(&cli.config, command),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(serve(cli.config)),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let local_key = !config.no_local_key;
    let server = relay_dev::Server::bind(config).await?;
    let addr = server.local_addr();
    let saved = if local_key {
        server.ensure_local_key().await?
    } else {
        None
    };
    let stop = server.shutdown_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        stop.shutdown();
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "tether-relay listening on http://{addr}")?;
    if let Some(local_key) = saved {
        writeln!(stdout, "{local_key}")?;
        writeln!(stdout, "dashboard: {}", server.dashboard_url())?;
    }
    stdout.flush().context("writing to stdout")?;
    drop(stdout);
    server.run().await
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
