//! One integration-test binary (one link step) with a module per area.

mod adversarial;
mod bluesky;
mod bounded;
mod bulk;
mod delete;
mod foundation;
mod helpers;
mod linking;
mod media;
mod observability;
mod publish;
mod publish_unknown;
mod queue;
mod resilience;
mod tenancy;
mod truth;
mod webhooks;
mod wider;
mod wire;
