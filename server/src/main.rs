use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    arbiter_server::telemetry::init();
    let cli = arbiter_server::cli::Cli::parse();
    match arbiter_server::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
