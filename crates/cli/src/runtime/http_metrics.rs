//! HTTP requests by listener, route, method and status, with latency histograms: a tower layer
//! every server's routes go through. Labels name the matched route (never the raw path, so
//! their number stays bounded) and a fixed set of methods.

use std::convert::Infallible;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::{Method, Request, Response};
use pin_project_lite::pin_project;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tower::{Layer, Service};

/// The route a request matched, or `unmatched` (kept as axum's shared string: no copy per
/// request).
#[derive(Clone, Debug)]
struct Route(Option<MatchedPath>);

impl Route {
    fn as_str(&self) -> &str {
        self.0.as_ref().map_or("unmatched", MatchedPath::as_str)
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl Hash for Route {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// The labels of a request's latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    listener: Arc<str>,
    route: Route,
    method: &'static str,
}

/// The labels of a request's count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    listener: Arc<str>,
    route: Route,
    method: &'static str,
    status: u16,
}

/// The method as a label: the standard ones by name, anything else as `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// Latency buckets: 0.5 ms to about 16 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The HTTP request metrics of a process, shared by its servers.
#[derive(Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl HttpMetrics {
    /// The metrics, registered in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        };
        registry.register(
            "mcp_oauth_http_requests",
            "HTTP requests answered, by listener, matched route, method and status",
            metrics.requests.clone(),
        );
        registry.register(
            "mcp_oauth_http_request_duration_seconds",
            "Time from a request's arrival to its response's headers, by listener, matched \
             route and method",
            metrics.latency.clone(),
        );
        metrics
    }

    /// The layer that counts the requests of the server listening on `listener`.
    pub fn layer(&self, listener: &str) -> HttpMetricsLayer {
        HttpMetricsLayer {
            metrics: self.clone(),
            listener: Arc::from(listener),
        }
    }
}

/// Counts each request and observes its latency.
#[derive(Clone)]
pub struct HttpMetricsLayer {
    metrics: HttpMetrics,
    listener: Arc<str>,
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetricsService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`HttpMetricsLayer`].
#[derive(Clone)]
pub struct HttpMetricsService<S> {
    inner: S,
    layer: HttpMetricsLayer,
}

impl<S, B, R> Service<Request<B>> for HttpMetricsService<S>
where
    S: Service<Request<B>, Response = Response<R>, Error = Infallible>,
{
    type Response = Response<R>;
    type Error = Infallible;
    type Future = HttpMetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let labels = RouteLabels {
            listener: Arc::clone(&self.layer.listener),
            route: Route(request.extensions().get::<MatchedPath>().cloned()),
            method: method_label(request.method()),
        };
        HttpMetricsFuture {
            future: self.inner.call(request),
            started: Instant::now(),
            labels: Some(labels),
            metrics: self.layer.metrics.clone(),
        }
    }
}

pin_project! {
    /// The response future of [`HttpMetricsService`].
    pub struct HttpMetricsFuture<F> {
        #[pin]
        future: F,
        started: Instant,
        labels: Option<RouteLabels>,
        metrics: HttpMetrics,
    }
}

impl<F, R> Future for HttpMetricsFuture<F>
where
    F: Future<Output = Result<Response<R>, Infallible>>,
{
    type Output = Result<Response<R>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = ready!(this.future.poll(cx));
        if let Some(labels) = this.labels.take() {
            this.metrics
                .latency
                .get_or_create(&labels)
                .observe(this.started.elapsed().as_secs_f64());
            let RouteLabels {
                listener,
                route,
                method,
            } = labels;
            this.metrics
                .requests
                .get_or_create(&RequestLabels {
                    listener,
                    route,
                    method,
                    status: response.status().as_u16(),
                })
                .inc();
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_labelled_by_name_or_as_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "OTHER");
    }
}
