//! The features a request passes through, one file each, called by the phases in `phases` in
//! a fixed order. A filter reads and writes the request context and the message of its phase;
//! none knows about the others.
//!
//! | phase            | filters                                                        |
//! |------------------|----------------------------------------------------------------|
//! | request headers  | `request_head` (head size, authority)                          |
//! | route            | (the route index and matcher, in `route`)                      |
//! | local answers    | `direct_response`, `redirect`                                  |
//! | upstream request | `prefix_rewrite`, hop-by-hop removal (`headers`), `forwarded`, |
//! |                  | the route's request header operations (`plan::HeaderOps`)      |
//! | upstream         | timeouts and retries (`forward`), upgrades (`upgrade`)         |
//! | upstream response| hop-by-hop removal                                             |
//! | response         | the route's response header operations                         |
//! | log              | counters per listener, route and cluster (`phases::log`)       |

pub(crate) mod direct_response;
pub(crate) mod forwarded;
pub(crate) mod prefix_rewrite;
pub(crate) mod redirect;
pub(crate) mod request_head;
