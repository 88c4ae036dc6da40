use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = arbiter_server::cli::Cli::parse();
    arbiter_server::telemetry::init(cli.log_format == "json");
    match arbiter_server::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
