//! Files code search looks through.

#[derive(Clone, Debug)]
pub struct SourceFile {
    pub repo: String,
    pub path: String,
    pub content: String,
}
