#include "gateway/node/receiver_node.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/audit/audit.h"
#include "gateway/deliver/deliver.h"
#include "gateway/envelope/envelope.h"
#include "gateway/link/link.h"
#include "gateway/node/node_common.h"

namespace cg::node {
namespace {

constexpr std::size_t waiting_max = 100'000;  // envelopes held for a missing epoch key

std::vector<std::uint8_t> epoch_key_of(std::string_view origin, std::uint64_t epoch) {
  std::vector<std::uint8_t> k(origin.begin(), origin.end());
  k.push_back(0);
  const auto e = store::be64(epoch);
  k.insert(k.end(), e.begin(), e.end());
  return k;
}

}  // namespace

struct ReceiverNode::Impl {
  config::NodeConfig config;
  const Clock* clock = nullptr;
  const crypto::Suite* suite = nullptr;
  std::unique_ptr<crypto::AgreementKey> kx;
  std::optional<approval::TrustRoot> root;
  crypto::VerifiedSignatures verified;  // batch and tree head signatures, checked once each
  std::unique_ptr<store::Env> env;
  store::Table epochs_table;
  std::optional<deliver::DedupeWindow> seen;
  std::optional<deliver::Outbox> outbox;
  std::optional<audit::AuditLog> audit_log;
  std::unique_ptr<deliver::DeliveryServer> server;
  std::optional<crypto::Secret> link_key;
  std::optional<LinkInbox> handler;
  std::unique_ptr<link::UdpReceiver> rx;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::map<std::pair<std::string, std::uint64_t>, crypto::EpochKey> keys;  // thread only
  std::vector<std::vector<std::uint8_t>> waiting;                          // thread only
  ReceiverCounters counters;
  // From sealing at the origin gateway (the envelope header's time) to stored here: two hosts'
  // wall clocks, so their skew is in it (clamped at 0).
  metrics::Histogram arrival = metrics::Histogram::latency();
  NodeMetrics metrics;  // last: destroyed (its server stopped) before what it reads

  Status load();
  Status register_metrics();
  Status accept(std::span<const std::uint8_t> announcement, bool persist);
  Status process();
  // Every second: how many sequence numbers below the highest received are missing, per
  // origin (lost on a link, or crossing while a node was down): the gauge operators watch
  // until gap recovery (issue 10) fills them.
  Status count_gaps();
  std::int64_t gaps_counted_ns = 0;
  void run();
};

Status ReceiverNode::Impl::load() {
  if (!config.keys || config.keys->agreement_key.empty() || config.links_in.size() != 1 ||
      !config.deliver) {
    return malformed(config.source_file +
                     ": a receiver needs [keys] with agreement_key, one [[link_in]] and [deliver]");
  }
  CG_ASSIGN_OR_RETURN(auto pass, passphrase(*config.keys));
  CG_ASSIGN_OR_RETURN(kx, crypto::load_agreement_key_file(config.keys->agreement_key,
                                                          pass ? &*pass : nullptr, !pass));
  CG_ASSIGN_OR_RETURN(suite, crypto::suite(kx->suite()));
  const approval::SuiteVerifier verifier(*suite);
  CG_ASSIGN_OR_RETURN(auto root_bytes,
                      crypto::read_file(config.keys->trust_root, limits::trust_root_bytes_max));
  CG_ASSIGN_OR_RETURN(auto r,
                      approval::TrustRoot::bootstrap(root_bytes, verifier, clock->now_ns()));
  root.emplace(std::move(r));
  const auto me = root->node(config.id);
  if (!me || me->getRole() != schema::Role::RECEIVER || !me->hasAgreementKey() ||
      !crypto::ct_equal(
          {me->getAgreementKey().getKey().begin(), me->getAgreementKey().getKey().size()},
          kx->public_key())) {
    return unauthenticated(config.id +
                           ": not a receiver with this agreement key in the trust root");
  }
  CG_ASSIGN_OR_RETURN(
      env, store::Env::open({.path = config.store, .map_bytes = config.store_bytes_max}));
  CG_ASSIGN_OR_RETURN(epochs_table, env->table("epochs"));
  CG_ASSIGN_OR_RETURN(auto d, deliver::DedupeWindow::open(*env));
  seen.emplace(std::move(d));
  CG_ASSIGN_OR_RETURN(auto o, deliver::Outbox::open(*env));
  outbox.emplace(std::move(o));
  CG_ASSIGN_OR_RETURN(auto a, audit::AuditLog::open(*env, config.id));
  audit_log.emplace(std::move(a));
  // Epoch keys announced before a restart.
  {
    std::vector<std::vector<std::uint8_t>> stored;
    CG_ASSIGN_OR_RETURN(auto txn, env->begin_read());
    CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(epochs_table));
    for (auto e = cursor.next();; e = cursor.next()) {
      if (!e.ok()) return e.status();
      if (!e->has_value()) break;
      stored.emplace_back((*e)->second.begin(), (*e)->second.end());
    }
    for (const auto& s : stored) (void)accept(s, /*persist=*/false);
  }
  const auto& li = config.links_in[0];
  CG_ASSIGN_OR_RETURN(auto k, crypto::read_link_key_file(li.key_file));
  link_key.emplace(std::move(k));
  link::ReceiverOptions ro;
  ro.settings = link_settings(li);
  ro.block_timeout_ns = std::int64_t{li.block_timeout_ms} * ns_per_ms;
  CG_RETURN_IF_ERROR(link::validate(ro));
  handler.emplace(config.id, &counters.lost_on_link);
  CG_ASSIGN_OR_RETURN(
      rx, link::UdpReceiver::open(ro, li.listen, li.rcvbuf_bytes, *link_key, *clock, *handler));
  deliver::ServerOptions so;
  so.endpoint = config.deliver->listen;
  CG_ASSIGN_OR_RETURN(so.secret_z85, read_first_line(config.deliver->curve_secret_file));
  for (const auto& c : config.deliver->consumers) so.consumers.push_back({c.id, c.curve_public});
  so.window_max = config.deliver->window_max;
  so.redeliver_after_ms = config.deliver->redeliver_after_ms;
  server = std::make_unique<deliver::DeliveryServer>(so, *outbox, *clock);
  CG_RETURN_IF_ERROR(server->start());
  return register_metrics();
}

Status ReceiverNode::Impl::register_metrics() {
  metrics.set_node(config.id);
  const char* sig_help =
      "Batch and tree head signature checks: computed by the suite, or remembered (the same "
      "signature verified before).";
  metrics.counter("cellgate_signature_checks_total", sig_help, {"how", "computed"},
                  verified.misses());
  metrics.counter("cellgate_signature_checks_total", sig_help, {"how", "remembered"},
                  verified.hits());
  metrics.counter("cellgate_receiver_received_total", "Envelopes received from the relay's link.",
                  counters.received);
  metrics.counter("cellgate_receiver_stored_total",
                  "Envelopes verified, opened and stored for consumers.", counters.stored);
  metrics.counter("cellgate_receiver_refused_total",
                  "Envelopes refused: countersignature, origin or opening failed.",
                  counters.refused);
  metrics.counter("cellgate_receiver_duplicates_total", "Envelopes already received (refused).",
                  counters.duplicates);
  metrics.gauge("cellgate_receiver_waiting_for_epoch", "Envelopes held until their epoch key.",
                counters.waiting_for_epoch);
  metrics.counter("cellgate_receiver_epochs_total", "Epoch announcements accepted.",
                  counters.epochs);
  metrics.counter("cellgate_receiver_lost_on_link_total", "Envelopes the link reported lost.",
                  counters.lost_on_link);
  metrics.counter("cellgate_receiver_errors_total", "Processing errors.", counters.errors);
  metrics.gauge("cellgate_receiver_missing",
                "Sequence numbers below the highest received that have not arrived.",
                counters.missing);
  const auto& dc = server->counters();
  metrics.counter("cellgate_deliver_delivered_total",
                  "Deliveries sent to consumers (redeliveries included).", dc.delivered);
  metrics.counter("cellgate_deliver_redelivered_total", "Deliveries sent again (no ack in time).",
                  dc.redelivered);
  metrics.counter("cellgate_deliver_acknowledged_total", "Deliveries consumers acknowledged.",
                  dc.acknowledged);
  link::register_metrics(metrics.registry(), config.links_in[0].name, nullptr,
                         &rx->receiver().counters());
  metrics.registry().gauge("cellgate_deliver_outbox_items",
                           "Items stored for consumers and not yet acknowledged.",
                           {{"node", config.id}}, [this] {
                             auto n = outbox->size();
                             return n.ok() ? static_cast<double>(*n) : -1.0;
                           });
  metrics.registry().histogram(
      "cellgate_receiver_arrival_seconds",
      "From sealing at the origin gateway (envelope time) to stored at this receiver.",
      {{"node", config.id}}, arrival);
  return metrics.start(config);
}

Status ReceiverNode::Impl::accept(std::span<const std::uint8_t> announcement, bool persist) {
  envelope::Announcement fields;
  auto key = envelope::accept_epoch(announcement, *root, *suite, *kx, nullptr, &fields);
  if (!key.ok()) return key.status();
  const auto id = std::make_pair(fields.origin, fields.epoch);
  if (keys.count(id)) return {};
  if (persist) {
    CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
    CG_RETURN_IF_ERROR(
        txn.put(epochs_table, epoch_key_of(fields.origin, fields.epoch), announcement));
    CG_RETURN_IF_ERROR(txn.commit());
  }
  keys.emplace(id, std::move(*key));
  counters.epochs.fetch_add(1);
  return {};
}

Status ReceiverNode::Impl::process() {
  for (auto& c : handler->controls)
    (void)accept(c, /*persist=*/true);  // others' announcements: refused
  handler->controls.clear();
  for (auto& e : handler->envelopes) {
    counters.received.fetch_add(1);
    if (waiting.size() < waiting_max)
      waiting.push_back(std::move(e));
    else
      counters.refused.fetch_add(1);
  }
  handler->envelopes.clear();
  if (waiting.empty()) return {};
  const std::int64_t now = clock->now_ns();
  std::vector<std::vector<std::uint8_t>> still;
  CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
  for (auto& bytes : waiting) {
    audit::Event ev{.time_ns = now, .event = schema::AuditEvent::REJECTED_INPUT};
    auto a = envelope::verify_delivery(bytes, *root, *suite, &verified);
    if (!a.ok()) {
      counters.refused.fetch_add(1);
      ev.reason = "verify";
      ev.detail = a.status().reason();
      CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
      continue;
    }
    const auto h = a->envelope.root().getHeader();
    const std::string origin(wire::view(h.getOrigin()));
    auto key = keys.find({origin, h.getEpoch()});
    if (key == keys.end()) {
      still.push_back(std::move(bytes));  // its announcement has not arrived yet
      continue;
    }
    ev.origin = origin;
    ev.destination = wire::view(h.getDestination());
    ev.stream = h.getStream();
    ev.seq = h.getSeq();
    ev.rules_version = h.getRulesVersion();
    auto item = envelope::open(*a, key->second);
    if (!item.ok()) {
      counters.refused.fetch_add(1);
      ev.reason = "open";
      ev.detail = item.status().reason();
      CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
      continue;
    }
    CG_ASSIGN_OR_RETURN(auto verdict, seen->check_and_mark(txn, origin, h.getStream(), h.getSeq()));
    if (verdict.verdict != deliver::DedupeWindow::Verdict::fresh) {
      counters.duplicates.fetch_add(1);
      ev.event = schema::AuditEvent::DUPLICATE;
      ev.reason = "duplicate";
      CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
      continue;
    }
    CG_RETURN_IF_ERROR(
        outbox
            ->enqueue(txn, origin, h.getStream(), h.getSeq(), a->log_index, item->canonical_bytes())
            .status());
    ev.event = schema::AuditEvent::DELIVERED;  // stored for delivery; consumers ack it later
    ev.item_id = {item->root().getId().begin(), item->root().getId().size()};
    ev.reason = "stored";
    CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
    counters.stored.fetch_add(1);
    arrival.observe(std::max<std::int64_t>(0, now - h.getTime()));
  }
  CG_RETURN_IF_ERROR(txn.commit());
  waiting = std::move(still);
  counters.waiting_for_epoch.store(waiting.size());
  return {};
}

void ReceiverNode::Impl::run() {
  ErrorLog errors(config.id);
  while (!stopping.load()) {
    if (auto s = rx->poll_once(10); !s.ok()) {
      counters.errors.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (auto s = process(); !s.ok()) {
      counters.errors.fetch_add(1);
      errors.report(s.reason(), clock->monotonic_ns());
    }
    if (auto s = count_gaps(); !s.ok()) {
      counters.errors.fetch_add(1);
      errors.report("gaps: " + s.reason(), clock->monotonic_ns());
    }
  }
}

Status ReceiverNode::Impl::count_gaps() {
  const std::int64_t mono = clock->monotonic_ns();
  if (mono - gaps_counted_ns < ns_per_s) return {};
  gaps_counted_ns = mono;
  std::uint64_t missing = 0;
  std::string ranges;
  for (const auto n : root->body().getNodes()) {
    if (n.getRole() != schema::Role::GATEWAY) continue;
    const std::string origin(wire::view(n.getId()));
    CG_ASSIGN_OR_RETURN(auto gaps, seen->missing(origin, 0, 64));
    for (const auto& g : gaps) {
      missing += g.last - g.first + 1;
      if (ranges.size() < 200)
        ranges += " " + origin + ":" + std::to_string(g.first) + ".." + std::to_string(g.last);
    }
  }
  if (missing != counters.missing.exchange(missing) && missing != 0) {
    std::fprintf(stderr, "[%s] %llu envelope(s) missing below the highest received:%s\n",
                 config.id.c_str(), static_cast<unsigned long long>(missing), ranges.c_str());
  }
  return {};
}

ReceiverNode::ReceiverNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReceiverNode::~ReceiverNode() { stop(); }

Result<std::unique_ptr<ReceiverNode>> ReceiverNode::start(const config::NodeConfig& config,
                                                          const Clock& clock) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->clock = &clock;
  CG_RETURN_IF_ERROR(impl->load());
  std::unique_ptr<ReceiverNode> node(new ReceiverNode(std::move(impl)));
  Impl* i = node->impl_.get();
  node->impl_->thread = std::thread([i] { i->run(); });
  return node;
}

void ReceiverNode::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  impl_->metrics.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  if (impl_->server) impl_->server->stop();
}

std::vector<std::uint16_t> ReceiverNode::link_in_ports() const { return {impl_->rx->port()}; }
const std::string& ReceiverNode::deliver_endpoint() const { return impl_->server->endpoint(); }
const ReceiverCounters& ReceiverNode::counters() const { return impl_->counters; }
std::uint16_t ReceiverNode::metrics_port() const { return impl_->metrics.port(); }

}  // namespace cg::node
