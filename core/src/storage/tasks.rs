//! What a lease is and what it shows; the SQL that makes and reads them
//! runs on the writer thread (see `hot`).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: i64,
    pub uuid: String,
    pub swapped: bool,
    pub lease_expires_at: i64,
}

/// What the annotator page shows for a lease: the prompt and both texts in
/// canonical order (the caller applies `swapped`).
pub struct Content {
    pub messages: String,
    pub is_chat: bool,
    pub a: String,
    pub b: String,
    /// Rendered at import; None for rows imported before that existed.
    pub messages_html: Option<String>,
    pub a_html: Option<String>,
    pub b_html: Option<String>,
}
