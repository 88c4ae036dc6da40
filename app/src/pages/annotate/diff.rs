//! The Differences toggle (key `d`): the words that differ between the two
//! answers of a pair, marked in the rendered answers (markdown stays
//! rendered: only text is wrapped). The comparison is pure and tested here;
//! the browser part walks the answers' text nodes.

/// A text split into words and the spaces between them, in order.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        if in_space.is_some_and(|s| s != space) {
            out.push(&text[start..i]);
            start = i;
        }
        in_space = Some(space);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// For two word sequences, which words of each are not in their longest
/// common subsequence (Myers' diff): the differences to mark.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn differing(a: &[&str], b: &[&str]) -> (Vec<bool>, Vec<bool>) {
    let (mut da, mut db) = (vec![true; a.len()], vec![true; b.len()]);
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, a, b) {
        if let similar::DiffOp::Equal { old_index, new_index, len } = op {
            da[old_index..old_index + len].iter_mut().for_each(|d| *d = false);
            db[new_index..new_index + len].iter_mut().for_each(|d| *d = false);
        }
    }
    (da, db)
}

#[cfg(feature = "hydrate")]
pub use browser::{mark, unmark};

#[cfg(feature = "hydrate")]
mod browser {
    use super::{differing, tokens};
    use wasm_bindgen::JsCast;
    use web_sys::{Element, Node, Text};

    fn text_nodes(node: &Node, out: &mut Vec<Text>) {
        let children = node.child_nodes();
        for i in 0..children.length() {
            let Some(child) = children.item(i) else { continue };
            match child.dyn_into::<Text>() {
                Ok(t) => out.push(t),
                Err(other) => text_nodes(&other, out),
            }
        }
    }

    /// Each text node's words (not spaces), in document order, with where they are.
    fn words(root: &Element) -> (Vec<Text>, Vec<String>, Vec<(usize, usize)>) {
        let mut nodes = Vec::new();
        text_nodes(root, &mut nodes);
        let (mut all, mut at) = (Vec::new(), Vec::new());
        for (n, t) in nodes.iter().enumerate() {
            let content = t.data();
            for (k, tok) in tokens(&content).into_iter().enumerate() {
                if !tok.trim().is_empty() {
                    all.push(tok.to_owned());
                    at.push((n, k));
                }
            }
        }
        (nodes, all, at)
    }

    /// Replaces each text node holding a marked word by the same text with
    /// that word in `<mark class="diff">`.
    fn wrap(nodes: &[Text], at: &[(usize, usize)], marked: &[bool]) {
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
        for (n, t) in nodes.iter().enumerate() {
            let here: Vec<usize> =
                at.iter().zip(marked).filter(|((node, _), m)| *node == n && **m).map(|((_, k), _)| *k).collect();
            if here.is_empty() {
                continue;
            }
            let fragment = doc.create_document_fragment();
            let content = t.data();
            for (k, tok) in tokens(&content).into_iter().enumerate() {
                if here.contains(&k) {
                    if let Ok(m) = doc.create_element("mark") {
                        m.set_class_name("diff");
                        m.set_text_content(Some(tok));
                        let _ = fragment.append_child(&m);
                    }
                } else {
                    let _ = fragment.append_child(&doc.create_text_node(tok));
                }
            }
            if let Some(parent) = t.parent_node() {
                let _ = parent.replace_child(&fragment, t);
            }
        }
    }

    /// Marks the words that differ between the two rendered answers.
    pub fn mark(left: &Element, right: &Element) {
        let (ln, lw, la) = words(left);
        let (rn, rw, ra) = words(right);
        let (lw, rw): (Vec<&str>, Vec<&str>) =
            (lw.iter().map(String::as_str).collect(), rw.iter().map(String::as_str).collect());
        let (dl, dr) = differing(&lw, &rw);
        wrap(&ln, &la, &dl);
        wrap(&rn, &ra, &dr);
    }

    /// Back to the answers as rendered.
    pub fn unmark(el: &Element, html: &str) {
        el.set_inner_html(html);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_every_character() {
        let t = "The cat  sat.\nOn a mat";
        assert_eq!(tokens(t).concat(), t);
        assert_eq!(tokens(t), vec!["The", " ", "cat", "  ", "sat.", "\n", "On", " ", "a", " ", "mat"]);
    }

    #[test]
    fn only_the_changed_words_are_marked() {
        let a = ["The", "cat", "sat", "on", "the", "mat"];
        let b = ["The", "dog", "sat", "on", "the", "mat", "today"];
        let (da, db) = differing(&a, &b);
        assert_eq!(da, vec![false, true, false, false, false, false]);
        assert_eq!(db, vec![false, true, false, false, false, false, true]);
    }
}
