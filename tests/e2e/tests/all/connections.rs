//! Upstream connections are pooled by the host: calls reuse one keep-alive
//! connection, and each request on it carries only its own tenant's
//! credential.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use atom_runtime::host_types::CredentialSecret;
use atom_test_support::{exec_in, sandbox, tenant_for};
use fake_bitbucket::{ADA_TOKEN, FakeBitbucket, GRACE_TOKEN};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

/// A loopback TCP relay in front of `target` that counts the connections
/// clients open through it.
async fn counting_relay(target: std::net::SocketAddr) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let opened = Arc::new(AtomicUsize::new(0));
    let counter = opened.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("http://{addr}/2.0"), opened)
}

#[tokio::test]
async fn calls_reuse_one_connection_and_each_request_carries_its_own_tenants_token() {
    let fake = FakeBitbucket::start().await.expect("the fake starts");
    let (relay, opened) = counting_relay(fake.addr()).await;
    let ada = tenant_for(&fake, "tenant-ada").with_config("api-base-url", relay.clone());
    ada.set_credential(CredentialSecret::AccessToken(ADA_TOKEN.to_owned()))
        .unwrap();
    let grace = tenant_for(&fake, "tenant-grace").with_config("api-base-url", relay);
    grace
        .set_credential(CredentialSecret::AccessToken(GRACE_TOKEN.to_owned()))
        .unwrap();

    let rounds = 10;
    for _ in 0..rounds {
        for (tenant, expected) in [(&ada, "ada"), (&grace, "grace")] {
            let user = exec_in(sandbox(), tenant, "get-current-user", json!({}))
                .await
                .unwrap();
            let nickname = user["nickname"].as_str().unwrap_or_default().to_lowercase();
            assert!(
                nickname.contains(expected),
                "{} got the user {user}",
                tenant.id
            );
        }
    }
    let connections = opened.load(Ordering::SeqCst);
    assert!(
        connections <= 2,
        "{} calls opened {connections} connections",
        rounds * 2
    );
    assert_eq!(fake.control().requests.len(), rounds * 2);
}
