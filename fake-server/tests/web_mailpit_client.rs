//! A real client of Mailpit's API, unchanged, against the web sink: the PyPI package
//! `mailpit-api-client` (installed by ci/setup.sh; without it this test fails), driven by
//! tests/clients/mailpit_client.py with mail sent by Python's smtplib.

mod common;

use common::*;
use fake_server::web::WebConfig;
use fake_server::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailpit_api_client_works_unchanged() {
    let server = start_with(Server::builder().http(WebConfig::new(loopback()))).await;
    let http = server.http_addr().expect("the web sink listens");
    let output = run_client_async(
        "python3",
        vec![
            script("mailpit_client.py"),
            server.smtp_addr().port().to_string(),
            format!("http://{http}"),
        ],
        None,
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for step in [
        "get_messages: ok",
        "get_message: ok",
        "get_message_headers: ok",
        "get_message_attachment: ok",
        "put_messages: ok",
        "delete_messages(ids): ok",
        "delete_messages([]): ok",
    ] {
        assert!(stdout.contains(step), "{step} missing:\n{stdout}");
    }
    server.shutdown().await;
}
