#include "gateway/roles/guard/guard_node.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <zmq.hpp>

#include "crypto/keys.h"
#include "gateway/audit/audit.h"
#include "gateway/common/limits.h"
#include "gateway/common/rate_log.h"
#include "gateway/edge/edge.h"
#include "gateway/node/metric_table.h"
#include "gateway/node/node_common.h"
#include "gateway/node/trust_pin.h"
#include "gateway/store/store.h"

namespace cg::node {
namespace {

constexpr int poll_ms = 100;
constexpr std::int64_t socket_msg_bytes_max =
    static_cast<std::int64_t>(limits::guard_message_bytes_max) + 4096;

std::vector<MetricRow> metric_rows(const signatory::SignatoryCounters& c,
                                   const std::atomic<std::uint64_t>& auth_failures) {
  return {
      counter_row("cellgate_guard_requests_total", "Requests from the filter.", c.requests),
      counter_row("cellgate_guard_malformed_total",
                  "Requests that did not decode or broke a rule (refused whole).", c.malformed),
      counter_row("cellgate_guard_signed_total", "Envelopes sealed and signed.",
                  c.signed_envelopes),
      counter_row("cellgate_guard_refused_total",
                  "Releases the guard refused (the filter holds them with both verdicts).",
                  c.refused),
      counter_row("cellgate_guard_refused_approvals_total",
                  "Of them, reviewer releases whose approvals did not suffice.",
                  c.refused_approvals),
      counter_row("cellgate_guard_repeated_total",
                  "Releases asked again and answered from the store (signed once).", c.repeated),
      counter_row("cellgate_guard_need_bundle_total",
                  "Seal requests under a bundle the guard had not verified yet.", c.need_bundle),
      counter_row("cellgate_guard_no_bundle_total",
                  "Seal requests refused: no usable approved rules bundle.", c.no_bundle),
      counter_row("cellgate_guard_stream_heads_total", "Stream heads signed.", c.heads),
      counter_row("cellgate_guard_stream_heads_refused_total",
                  "Stream heads refused (beyond the last seq signed, or no such destination).",
                  c.heads_refused),
      counter_row("cellgate_guard_epochs_started_total", "Epoch keys started.", c.epochs_started),
      counter_row("cellgate_guard_errors_total", "Requests that failed on a store error.",
                  c.errors),
      counter_row("cellgate_guard_auth_failures_total",
                  "Connections refused: not the filter's CURVE key.", auth_failures),
  };
}

}  // namespace

struct GuardNode::Impl {
  config::NodeConfig config;
  const Clock* clock = nullptr;
  std::optional<RateLimitedLog> events;
  std::unique_ptr<crypto::SigningKey> key;
  const crypto::Suite* suite = nullptr;
  std::unique_ptr<store::Env> env;
  std::optional<audit::AuditLog> audit_log;
  std::unique_ptr<approval::Approver> approver;
  std::unique_ptr<signatory::Signatory> signer;
  zmq::context_t context{1};
  std::unique_ptr<edge::ZapAuthenticator> zap;
  std::unique_ptr<zmq::socket_t> socket;
  std::string endpoint;
  std::atomic<std::uint64_t> auth_failures{0};
  std::atomic<bool> stopping{false};
  std::thread thread;
  NodeMetrics metrics;  // last: stopped before what it reads

  Status load();
  void serve();
};

Status GuardNode::Impl::load() {
  events.emplace(config.id, *clock, log_interval_ns);
  if (!config.keys || !config.guard_service || config.keys->signing_key.empty())
    return malformed(config.source_file + ": a guard needs [keys] with signing_key and [guard]");
  const auto& g = *config.guard_service;
  CG_ASSIGN_OR_RETURN(auto pass, passphrase(*config.keys));
  CG_ASSIGN_OR_RETURN(
      key, crypto::load_signing_key_file(config.keys->signing_key, pass ? &*pass : nullptr,
                                         /*allow_unencrypted=*/!pass));
  CG_ASSIGN_OR_RETURN(suite, crypto::suite(key->suite()));
  const approval::SuiteVerifier verifier(*suite);
  CG_ASSIGN_OR_RETURN(auto pinned, load_trust_root(config, verifier, clock->now_ns()));
  CG_ASSIGN_OR_RETURN(
      env, store::Env::open({.path = config.store, .map_bytes = config.store_bytes_max}));
  CG_ASSIGN_OR_RETURN(auto a, audit::AuditLog::open(*env, config.id, *suite));
  audit_log.emplace(std::move(a));
  CG_RETURN_IF_ERROR(audit_pinned(*audit_log, *env, config.id, clock->now_ns(), pinned));
  const auto gw = pinned.root.node(g.gateway);
  if (!gw) return unauthenticated(g.gateway + ": not a node of the trust root");
  CG_ASSIGN_OR_RETURN(
      approver, approval::Approver::open(*env, std::string(wire::view(gw->getParty())), pinned.root,
                                         std::make_shared<approval::SuiteVerifier>(*suite),
                                         policy_compiler()));
  CG_ASSIGN_OR_RETURN(signer, signatory::Signatory::open(*env,
                                                         {.gateway = g.gateway,
                                                          .epoch_items_max = g.epoch_items_max,
                                                          .epoch_seconds = g.epoch_seconds},
                                                         *key, pinned.root, *approver, *clock));
  // Exactly one client: the filter.
  CG_ASSIGN_OR_RETURN(const auto filter_key, edge::decode_z85_key(g.filter_curve_public));
  zap = std::make_unique<edge::ZapAuthenticator>(
      context, std::map<edge::CurveKey, std::string>{{filter_key, "filter"}}, auth_failures,
      &*events, "guard");
  CG_RETURN_IF_ERROR(zap->start());
  CG_ASSIGN_OR_RETURN(const auto secret, read_first_line(g.curve_secret_file));
  socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::rep);
  CG_RETURN_IF_ERROR(
      edge::make_curve_server(*socket, secret, "cellgate.guard").with_context("guard: secret key"));
  try {
    socket->set(zmq::sockopt::maxmsgsize, socket_msg_bytes_max);
    socket->set(zmq::sockopt::linger, 0);
  } catch (const zmq::error_t& e) {
    return io_error(std::string("guard: socket: ") + e.what());
  }
  CG_ASSIGN_OR_RETURN(endpoint, edge::bind(*socket, g.listen));
  metrics.set_node(config.id);
  register_rows(metrics, metric_rows(signer->counters(), auth_failures));
  return metrics.start(config);
}

void GuardNode::Impl::serve() {
  while (!stopping.load()) {
    try {
      zmq::pollitem_t item{socket->handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(poll_ms));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      zmq::message_t request;
      if (!socket->recv(request, zmq::recv_flags::dontwait)) continue;
      const auto reply = signer->handle(edge::bytes(request));
      (void)socket->send(zmq::buffer(reply), zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      if (stopping.load()) break;
      events->log("socket", std::string("guard socket: ") + e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
    }
  }
}

GuardNode::GuardNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GuardNode::~GuardNode() { stop(); }

Result<std::unique_ptr<GuardNode>> GuardNode::start(const config::NodeConfig& config,
                                                    const Clock& clock) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->clock = &clock;
  CG_RETURN_IF_ERROR(impl->load());
  std::unique_ptr<GuardNode> node(new GuardNode(std::move(impl)));
  node->impl_->thread = std::thread([n = node->impl_.get()] { n->serve(); });
  return node;
}

void GuardNode::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  impl_->metrics.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->socket.reset();
  if (impl_->zap) impl_->zap->stop();
}

const std::string& GuardNode::endpoint() const { return impl_->endpoint; }
const signatory::SignatoryCounters& GuardNode::counters() const {
  return impl_->signer->counters();
}
std::uint16_t GuardNode::metrics_port() const { return impl_->metrics.port(); }

}  // namespace cg::node
