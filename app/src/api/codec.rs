//! The server functions' protocol: JSON in a POST, as leptos's own `Json`,
//! except that the browser decodes answers from text
//! (`serde_json::from_str`), the way leptos decodes the data resources
//! carry in the page. leptos's `Json` decodes bytes (`from_slice`): every
//! type the browser reads both ways was compiled into the wasm once per
//! serde_json reader, and deserialization was a fifth of its code.
use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::{de::DeserializeOwned, Serialize};

pub struct TextJson;

impl ContentType for TextJson {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for TextJson {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for TextJson {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for TextJson {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(<serde_json::Error as serde::de::Error>::custom)?;
        serde_json::from_str(text)
    }
}

/// Every server function's output (and the input of those that take JSON).
pub type Json = Post<TextJson>;
