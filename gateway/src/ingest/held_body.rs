//! Keeps a request's body stream alive until its response is fully sent.
//!
//! When a handler answers without reading the whole body (a refusal, or a body over the
//! limit), actix-http would otherwise go on reading and discarding the rest of a chunked body
//! to keep the connection alive, for as long as the client sends, with no size or time bound.
//! While the request body is still held when the response ends, actix closes the connection
//! instead.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::HttpMessage;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use bytes::Bytes;
use futures::Stream;

type Shared = Rc<RefCell<Payload>>;

struct SharedPayload(Shared);

impl Stream for SharedPayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_next(cx)
    }
}

/// A response body that holds the request body until it is done.
struct HoldingBody {
    body: BoxBody,
    _request_body: Shared,
}

impl MessageBody for HoldingBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// Middleware (for `App::wrap_fn`) that holds each request body until its response is sent.
pub fn hold<S>(
    mut request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>> + use<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = actix_web::Error>,
{
    let held: Shared = Rc::new(RefCell::new(request.take_payload()));
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
        Box::pin(SharedPayload(held.clone()));
    request.set_payload(Payload::from(stream));
    let call = service.call(request);
    async move {
        let response = call.await?;
        Ok(response.map_body(move |_, body| {
            HoldingBody {
                body,
                _request_body: held,
            }
            .boxed()
        }))
    }
}
