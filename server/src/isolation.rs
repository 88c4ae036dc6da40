//! Keeps each request's reactive owner to itself.
//!
//! Leptos keeps "the current owner" in a thread-local, and some of its SSR
//! code leaves that set when a future returns `Pending`. Another request
//! polled next on the same worker thread then inherits it: leptos_axum's
//! server-function and file handlers create their owner with `Owner::new()`,
//! which becomes a *child* of whatever is current. Seen here as a built
//! asset answered 404 because it picked up the response options of a page
//! answered 404 at the same moment (docs/decisions.md); a child owner is
//! also cleaned up when its accidental parent is dropped, mid-request.
//!
//! Every request (its handler and its body) is therefore polled with no
//! current owner, and none is left behind after each poll.
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use leptos::prelude::Owner;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

fn clear_owner() {
    if let Some(owner) = Owner::current() {
        owner.unset();
    }
}

pin_project_lite::pin_project! {
    struct Isolated<F> {
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for Isolated<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        clear_owner();
        let out = self.project().inner.poll(cx);
        clear_owner();
        out
    }
}

pin_project_lite::pin_project! {
    struct IsolatedBody {
        #[pin]
        inner: Body,
    }
}

impl http_body::Body for IsolatedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        clear_owner();
        let out = self.project().inner.poll_frame(cx);
        clear_owner();
        out
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The middleware: the handler's future and the response body, isolated.
pub async fn isolate(req: Request, next: Next) -> Response {
    let res = Isolated { inner: next.run(req) }.await;
    res.map(|body| Body::new(IsolatedBody { inner: body }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_starts_and_ends_without_an_owner() {
        let leaked = Owner::new();
        leaked.set();
        let mut fut = std::pin::pin!(Isolated {
            inner: async {
                assert!(Owner::current().is_none(), "no owner inherited from the thread");
                Owner::new().set(); // a leak inside the request
            }
        });
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(fut.as_mut().poll(&mut cx).is_ready());
        assert!(Owner::current().is_none(), "nothing left behind for the next request");
        drop(leaked);
    }
}
