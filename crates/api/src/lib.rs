//! lockgate's resources, in Gloo Edge's format, so that YAML written for Gloo decodes unchanged.
//!
//! Every type here rejects unknown fields: a typo in a matcher must never decode into a route
//! that matches everything. Decoding errors carry the path of the offending field
//! (`spec.routes[1].matchers[0].prefx`) and the resource they belong to; see [`decode`].
//!
//! Nothing in this crate does I/O. The stores produce a [`Snapshot`] of these types and the
//! translator consumes it without knowing where it came from.

mod decode;
mod duration;
pub mod limits;
mod meta;
mod route;
mod selector;
mod settings;
mod snapshot;
mod strict;
mod upstream;
mod virtual_service;

pub use decode::{
    DecodeError, Document, Skipped, decode_documents, decode_documents_with, decode_value,
    decode_value_with,
};
pub use duration::Duration;
pub use limits::Limits;
pub use meta::{Kind, ObjectMeta, ResourceKey, ResourceRef, name_problem, namespace_problem};
pub use route::{
    DelegateAction, DelegateSelector, Destination, DirectResponseAction, HeaderManipulation,
    HeaderMatcher, HeaderValue, HeaderValueOption, Matcher, MultiDestination,
    ProtocolUpgradeConfig, ProtocolUpgradeSpec, QueryParameterMatcher, RedirectAction,
    RedirectResponseCode, RetryPolicy, Route, RouteAction, RouteOptions, Subset,
    WeightedDestination,
};
pub use selector::{Expression, ExpressionOperator, LabelSelector};
pub use settings::{
    DEFAULT_INVALID_ROUTE_BODY, GatewaySettings, GlooSettings, InvalidConfigPolicy,
    SYSTEM_NAMESPACE, Settings, SettingsSpec, ValidationSettings,
};
pub use snapshot::{Resource, Snapshot, Undecodable};
pub use strict::parse_json;
pub use upstream::{
    CircuitBreakers, Endpoint, EndpointSpec, FallbackPolicy, KubeUpstream, OutlierDetection,
    StaticHost, StaticUpstream, SubsetSelector, SubsetSpec, Upstream, UpstreamSpec,
};
pub use virtual_service::{
    RouteTable, RouteTableSpec, VirtualHost, VirtualService, VirtualServiceSpec,
};
