//! Adapts a Rust `Stream` to a component-model `stream<T>` the host writes.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use wasmtime::StoreContextMut;
use wasmtime::component::{Destination, StreamProducer, StreamResult};

/// A `StreamProducer` that delivers one item per read from a `futures::Stream`.
pub struct StreamOf<S>(Pin<Box<S>>);

impl<S> StreamOf<S> {
    /// Wraps a stream.
    pub fn new(stream: S) -> Self {
        Self(Box::pin(stream))
    }
}

impl<S, T, D> StreamProducer<D> for StreamOf<S>
where
    S: Stream<Item = T> + Send + 'static,
    T: Send + Sync + 'static,
{
    type Item = T;
    type Buffer = Option<T>;

    fn poll_produce<'a>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        _store: StoreContextMut<'a, D>,
        mut dst: Destination<'a, T, Option<T>>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let me = self.get_mut();
        match me.0.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => {
                dst.set_buffer(Some(item));
                Poll::Ready(Ok(StreamResult::Completed))
            }
            Poll::Ready(None) => Poll::Ready(Ok(StreamResult::Dropped)),
            Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
            Poll::Pending => Poll::Pending,
        }
    }
}
