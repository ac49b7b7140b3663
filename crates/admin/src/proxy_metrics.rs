//! The proxy's counters on `/metrics`, read from [`Proxy::stats`] at scrape time.
//!
//! Per route: requests, responses by status class and upstream errors. Per upstream: outlier
//! ejections and circuit-breaker overflows. Latency histograms are
//! per listener and per destination only: per route they would multiply the scrape by the
//! number of buckets for every route of a large configuration.

use lockgate_proxy::{Counts, LATENCY_BUCKETS_MICROS, Latency, Proxy};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

/// Adds the proxy's counters to `registry`.
pub fn register_proxy(registry: &mut Registry, proxy: Proxy) {
    registry.register_collector(Box::new(ProxyCollector { proxy }));
}

struct ProxyCollector {
    proxy: Proxy,
}

impl std::fmt::Debug for ProxyCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProxyCollector")
    }
}

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

type Labels = Vec<(&'static str, String)>;

fn counter(encoder: &mut MetricEncoder<'_>, labels: &Labels, value: u64) -> std::fmt::Result {
    encoder
        .encode_family(labels)?
        .encode_counter::<Labels, u64, f64>(&value, None)
}

fn latency(
    encoder: &mut MetricEncoder<'_>,
    labels: &Labels,
    latency: &Latency,
) -> std::fmt::Result {
    let bounds = LATENCY_BUCKETS_MICROS
        .iter()
        .map(|micros| *micros as f64 / 1e6)
        .chain(std::iter::once(f64::MAX));
    let buckets: Vec<(f64, u64)> = bounds.zip(latency.buckets.iter().copied()).collect();
    encoder.encode_family(labels)?.encode_histogram::<Labels>(
        latency.sum_micros as f64 / 1e6,
        latency.count,
        &buckets,
        None,
    )
}

/// Encodes one family of counters taken from `Counts`.
fn family<'a>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: impl Iterator<Item = (Labels, &'a Counts)> + Clone,
    value: impl Fn(&Counts) -> Vec<(Option<&'static str>, u64)>,
) -> std::fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, counts) in rows {
        for (class, n) in value(counts) {
            let mut labels = labels.clone();
            if let Some(class) = class {
                labels.push(("class", class.to_string()));
            }
            counter(&mut metric, &labels, n)?;
        }
    }
    Ok(())
}

impl Collector for ProxyCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let stats = self.proxy.stats();
        let listener = std::iter::once((Labels::new(), &stats.listener));
        let routes = stats.routes.iter().map(|(id, counts)| {
            let labels = vec![
                ("virtual_host", id.virtual_host.clone()),
                ("route", id.origin.clone()),
            ];
            (labels, counts)
        });
        let destinations = stats
            .clusters
            .iter()
            .map(|(key, counts)| (vec![("destination", key.to_string())], counts));
        let requests = |c: &Counts| vec![(None, c.requests)];
        let responses = |c: &Counts| {
            CLASSES
                .iter()
                .zip(c.responses)
                .map(|(class, n)| (Some(*class), n))
                .collect()
        };
        let errors = |c: &Counts| vec![(None, c.errors)];

        family(
            &mut encoder,
            "lockgate_proxy_requests",
            "Requests the proxy listener answered",
            listener.clone(),
            requests,
        )?;
        family(
            &mut encoder,
            "lockgate_proxy_responses",
            "Responses of the proxy listener by status class",
            listener.clone(),
            responses,
        )?;
        family(
            &mut encoder,
            "lockgate_route_requests",
            "Requests per route",
            routes.clone(),
            requests,
        )?;
        family(
            &mut encoder,
            "lockgate_route_responses",
            "Responses per route by status class",
            routes.clone(),
            responses,
        )?;
        family(
            &mut encoder,
            "lockgate_route_upstream_errors",
            "Requests per route that got no answer from the upstream",
            routes,
            errors,
        )?;
        family(
            &mut encoder,
            "lockgate_destination_requests",
            "Requests per destination (upstream and subset)",
            destinations.clone(),
            requests,
        )?;
        family(
            &mut encoder,
            "lockgate_destination_responses",
            "Responses per destination by status class",
            destinations.clone(),
            responses,
        )?;
        family(
            &mut encoder,
            "lockgate_destination_upstream_errors",
            "Requests per destination that got no answer",
            destinations.clone(),
            errors,
        )?;

        let mut metric = encoder.encode_descriptor(
            "lockgate_upstream_ejections",
            "Endpoints ejected by outlier detection, per upstream",
            None,
            MetricType::Counter,
        )?;
        for (id, counts) in &stats.upstreams {
            counter(
                &mut metric,
                &vec![("upstream", id.to_string())],
                counts.ejections,
            )?;
        }
        let mut metric = encoder.encode_descriptor(
            "lockgate_upstream_overflows",
            "Requests refused (503) or retries not made because a circuit breaker was full",
            None,
            MetricType::Counter,
        )?;
        for (id, counts) in &stats.upstreams {
            for (limit, n) in [
                ("maxConnections", counts.overflow_connections),
                ("maxPendingRequests", counts.overflow_pending_requests),
                ("maxRequests", counts.overflow_requests),
                ("maxRetries", counts.overflow_retries),
            ] {
                let labels = vec![("upstream", id.to_string()), ("limit", limit.to_string())];
                counter(&mut metric, &labels, n)?;
            }
        }

        let seconds = Unit::Seconds;
        let mut metric = encoder.encode_descriptor(
            "lockgate_proxy_latency",
            "Time from receiving a request to sending the response headers",
            Some(&seconds),
            MetricType::Histogram,
        )?;
        latency(&mut metric, &Labels::new(), &stats.listener.latency)?;
        let mut metric = encoder.encode_descriptor(
            "lockgate_destination_latency",
            "Time from receiving a request to sending the response headers, per destination",
            Some(&seconds),
            MetricType::Histogram,
        )?;
        for (labels, counts) in destinations {
            latency(&mut metric, &labels, &counts.latency)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lockgate_compiled::{
        Action, CircuitBreakers, Cluster, ClusterId, ClusterKey, CompiledConfig, Forward, Matcher,
        PathMatch, Route, RouteOptions, Target, VirtualHost, WeightedTarget,
    };

    use super::*;

    #[tokio::test]
    async fn circuit_breaker_overflows_appear_per_upstream_and_limit() {
        let key = ClusterKey {
            upstream_namespace: "echo".into(),
            upstream_name: "echo".into(),
            subset: BTreeMap::new(),
        };
        let mut cluster = Cluster::new(key, vec!["127.0.0.1:9".parse().unwrap()]);
        cluster.circuit_breakers = CircuitBreakers {
            max_requests: 0,
            ..CircuitBreakers::default()
        };
        let route = Route {
            origin: "gloo-system.app/routes[0]".into(),
            matcher: Matcher {
                path: PathMatch::Prefix {
                    value: "/".into(),
                    case_sensitive: true,
                },
                headers: vec![],
                query: vec![],
                methods: vec![],
                within: vec![],
            },
            action: Action::Forward(Forward {
                destinations: vec![WeightedTarget {
                    weight: 1,
                    target: Target::Cluster(ClusterId(0)),
                }],
                total_weight: 1,
            }),
            options: RouteOptions::default(),
        };
        let config = CompiledConfig::new(
            vec![VirtualHost {
                name: "gloo-system.app".into(),
                domains: vec!["*".into()],
                routes: vec![std::sync::Arc::new(route)],
                sources: Vec::new(),
            }],
            vec![cluster],
        );
        let proxy = Proxy::new(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = proxy.clone();
        tokio::spawn(async move { serving.serve(listener, std::future::pending()).await });
        let response = reqwest::get(format!("http://{addr}/")).await.unwrap();
        assert_eq!(response.status().as_u16(), 503);

        let mut registry = Registry::default();
        register_proxy(&mut registry, proxy);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(
                "lockgate_upstream_overflows_total{upstream=\"echo.echo\",limit=\"maxRequests\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("lockgate_upstream_ejections_total{upstream=\"echo.echo\"} 0"),
            "{text}"
        );
    }
}
