//! Source files for code search, on five repositories.

use crate::world::{SourceFile, World};

const FILES: [(&str, &str, &str); 17] = [
    (
        "atom-labs/bitbucket-plugin",
        "README.md",
        "# Bitbucket plugin\n\nA Bitbucket Cloud client for ATOM, built as a WebAssembly component.\n\n## Authentication\n\nUse an Atlassian API token (Basic, with your e-mail) or an OAuth access token (Bearer).\nApp passwords were removed in 2026.\n\nTODO: document workspace access tokens.\n",
    ),
    (
        "atom-labs/bitbucket-plugin",
        "Cargo.toml",
        "[package]\nname = \"bitbucket-plugin\"\nversion = \"0.9.0\"\nedition = \"2024\"\n\n[dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\nserde_json = \"1\"\nhmac = \"0.12\"\nsha2 = \"0.10\"\n",
    ),
    (
        "atom-labs/bitbucket-plugin",
        "src/lib.rs",
        "//! The Bitbucket Cloud client.\n\nmod page;\nmod pipelines;\nmod webhooks;\n\npub use webhooks::verify_signature;\n\n/// How often and how long to retry a request.\npub struct RetryPolicy {\n    pub attempts: u32,\n    pub base_delay_ms: u64,\n}\n\n// TODO: make the retry policy configurable per tenant.\nimpl Default for RetryPolicy {\n    fn default() -> Self {\n        Self { attempts: 3, base_delay_ms: 250 }\n    }\n}\n",
    ),
    (
        "atom-labs/bitbucket-plugin",
        "src/webhooks.rs",
        "use hmac::{Hmac, Mac};\nuse sha2::Sha256;\n\n/// Checks `X-Hub-Signature: sha256=<hex>` against the raw body.\npub fn verify_signature(secret: &[u8], body: &[u8], header: &str) -> bool {\n    let Some(hex) = header.strip_prefix(\"sha256=\") else {\n        return false;\n    };\n    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect(\"any key\");\n    mac.update(body);\n    // TODO: compare in constant time.\n    hex_encode(&mac.finalize().into_bytes()) == hex\n}\n\nfn hex_encode(bytes: &[u8]) -> String {\n    bytes.iter().map(|b| format!(\"{b:02x}\")).collect()\n}\n",
    ),
    (
        "atom-labs/bitbucket-plugin",
        "src/pipelines.rs",
        "/// Fetches a step log, following the 307 to log storage.\npub fn step_log(uuid: &str, range: Option<(u64, u64)>) -> Vec<u8> {\n    let mut request = get(&format!(\"pipelines/{uuid}/steps/log\"));\n    if let Some((first, last)) = range {\n        request = request.header(\"Range\", format!(\"bytes={first}-{last}\"));\n    }\n    // TODO: resume interrupted downloads from the last byte received.\n    request.follow_redirects().send().body\n}\n",
    ),
    (
        "atom-labs/bitbucket-plugin",
        "src/page.rs",
        "/// Bitbucket pages: `pagelen` defaults to 10 and is capped at 100.\npub const MAX_PAGELEN: u32 = 100;\n\n/// Follows `next`; pipelines sometimes omit it (BCLOUD-20639), so keep\n/// asking by page number until a short page.\npub fn next_page(next: Option<&str>, page: u32, pagelen: u32, got: usize) -> Option<String> {\n    match next {\n        Some(url) => Some(url.to_owned()),\n        None if got == pagelen as usize => Some(format!(\"?page={}&pagelen={pagelen}\", page + 1)),\n        None => None,\n    }\n}\n// TODO: de-duplicate code search results across pages (BCLOUD-23644).\n",
    ),
    (
        "atom-labs/bitbucket-plugin",
        "bitbucket-pipelines.yml",
        "image: rust:1.95\n\npipelines:\n  default:\n    - step:\n        name: Build\n        script:\n          - cargo build --locked\n    - step:\n        name: Test\n        script:\n          - cargo test --locked\n  custom:\n    deploy-staging:\n      - step:\n          name: Deploy to staging\n          deployment: staging\n          script:\n            - ./deploy.sh staging\n    deploy-production:\n      - step:\n          name: Deploy to production\n          deployment: production\n          script:\n            - ./deploy.sh production\n    nightly:\n      - step:\n          name: Nightly checks\n          script:\n            - cargo test --locked -- --include-ignored\n# TODO: cache the cargo registry.\n",
    ),
    (
        "atom-labs/atom-core",
        "README.md",
        "# ATOM core\n\nThe engine that runs plugins in a sandbox.\n\nTODO: architecture overview.\n",
    ),
    (
        "atom-labs/atom-core",
        "src/engine.rs",
        "pub struct Engine {\n    fuel: u64,\n}\n\nimpl Engine {\n    pub fn new(fuel: u64) -> Self {\n        Self { fuel }\n    }\n\n    // TODO: share compiled components between tenants.\n    pub fn run(&mut self, component: &[u8]) -> Result<(), String> {\n        if component.is_empty() {\n            return Err(\"empty component\".into());\n        }\n        self.fuel = self.fuel.saturating_sub(1);\n        Ok(())\n    }\n}\n",
    ),
    (
        "atom-labs/atom-core",
        "src/retry.rs",
        "use std::time::Duration;\n\n/// Exponential backoff with jitter, honouring Retry-After when present.\npub struct RetryPolicy {\n    pub attempts: u32,\n    pub base: Duration,\n}\n\nimpl RetryPolicy {\n    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {\n        retry_after.unwrap_or(self.base * 2u32.pow(attempt))\n    }\n}\n// TODO: cap the delay at one minute.\n",
    ),
    (
        "atom-labs/github-plugin",
        "src/lib.rs",
        "//! The GitHub client.\n\nmod webhooks;\n\npub use webhooks::verify_signature;\n\n// TODO: GraphQL for bulk queries.\n",
    ),
    (
        "atom-labs/github-plugin",
        "src/webhooks.rs",
        "/// GitHub signs with `X-Hub-Signature-256`; Bitbucket with `X-Hub-Signature`.\npub fn verify_signature(secret: &[u8], body: &[u8], header: &str) -> bool {\n    // TODO: share this with the Bitbucket plugin.\n    crate::hmac::check(secret, body, header.trim_start_matches(\"sha256=\"))\n}\n",
    ),
    (
        "acme/api-service-00",
        "README.md",
        "# API service\n\nThe public API of Acme.\n\nRun `cargo run` and open http://localhost:8080/health.\n\nTODO: deployment guide.\n",
    ),
    (
        "acme/api-service-00",
        "src/main.rs",
        "mod handlers;\n\n#[tokio::main]\nasync fn main() {\n    let app = handlers::router();\n    let listener = tokio::net::TcpListener::bind(\"127.0.0.1:8080\").await.unwrap();\n    // TODO: graceful shutdown.\n    axum::serve(listener, app).await.unwrap();\n}\n",
    ),
    (
        "acme/api-service-00",
        "src/handlers/health.rs",
        "use axum::http::StatusCode;\n\n/// 200 when the database answers, 503 otherwise.\npub async fn health() -> StatusCode {\n    if database_ok().await {\n        StatusCode::OK\n    } else {\n        StatusCode::SERVICE_UNAVAILABLE\n    }\n}\n\nasync fn database_ok() -> bool {\n    true\n}\n",
    ),
    (
        "acme/search-service-00",
        "search/query.py",
        "\"\"\"Parses the search box: terms plus repo:, ext: and path: modifiers.\"\"\"\n\n\ndef parse_query(text):\n    terms, modifiers = [], {}\n    for token in text.split():\n        key, sep, value = token.partition(\":\")\n        if sep and key in (\"repo\", \"ext\", \"path\"):\n            modifiers.setdefault(key, []).append(value)\n        else:\n            terms.append(token)\n    # TODO: quoted phrases.\n    return terms, modifiers\n",
    ),
    (
        "acme/search-service-00",
        "search/index.py",
        "from .query import parse_query\n\n\nclass Index:\n    def __init__(self):\n        self.documents = {}\n\n    def add(self, path, text):\n        self.documents[path] = text\n\n    def search(self, text):\n        terms, _ = parse_query(text)\n        return [p for p, t in self.documents.items() if all(term in t for term in terms)]\n",
    ),
];

pub fn seed(world: &mut World) {
    world
        .files
        .extend(FILES.iter().map(|(repo, path, content)| SourceFile {
            repo: (*repo).to_owned(),
            path: (*path).to_owned(),
            content: (*content).to_owned(),
        }));
}
