#include "gateway/node/gateway_node.h"

#include <capnp/message.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/audit/audit.h"
#include "gateway/envelope/envelope.h"
#include "gateway/ingest/ingest.h"
#include "gateway/link/link.h"
#include "gateway/node/node_common.h"
#include "gateway/policy/policy.h"
#include "gateway/quarantine/quarantine.h"
#include "gateway/sentlog/sentlog.h"

namespace cg::node {
namespace {

void log_line(const std::string& node, const std::string& what) {
  std::fprintf(stderr, "[%s] %s\n", node.c_str(), what.c_str());
}

}  // namespace

struct GatewayNode::Impl {
  config::NodeConfig config;
  const Clock* clock = nullptr;
  const crypto::Suite* suite = nullptr;
  std::unique_ptr<crypto::SigningKey> signing_key;
  envelope::Signer signer;
  std::optional<approval::TrustRoot> root;
  std::unique_ptr<store::Env> env;
  std::optional<ingest::Inbox> inbox;
  std::optional<sentlog::SentLog> sent;
  std::optional<quarantine::Quarantine> held;
  std::optional<audit::AuditLog> audit_log;
  std::unique_ptr<approval::Approver> approver;
  std::unique_ptr<ingest::Server> ingest_server;
  std::optional<crypto::Secret> link_key;
  std::unique_ptr<link::UdpSender> link_tx;
  std::thread pipeline;
  std::atomic<bool> stopping{false};
  GatewayCounters counters;

  // Per destination party: the receiver's static key and the current epoch.
  struct Stream {
    std::vector<std::uint8_t> receiver_public;
    std::optional<crypto::EpochKey> epoch;
  };
  std::map<std::string, Stream> streams;  // pipeline thread only

  Status load();
  void run();
  // One pipeline pass; false when there was nothing to do.
  Result<bool> pass();
  Result<crypto::EpochKey*> epoch_for(const std::string& party, std::uint64_t first_seq,
                                      std::vector<std::vector<std::uint8_t>>& announcements);
};

Status GatewayNode::Impl::load() {
  if (!config.keys || !config.pipeline || !config.ingest || config.links_out.size() != 1) {
    return malformed(config.source_file +
                     ": a gateway needs [keys], [pipeline], [ingest] and one [[link_out]]");
  }
  const auto& k = *config.keys;
  CG_ASSIGN_OR_RETURN(auto pass, passphrase(k));
  CG_ASSIGN_OR_RETURN(signing_key,
                      crypto::load_signing_key_file(k.signing_key, pass ? &*pass : nullptr,
                                                    /*allow_unencrypted=*/!pass));
  CG_ASSIGN_OR_RETURN(suite, crypto::suite(signing_key->suite()));
  signer = {config.id, suite, signing_key.get(),
            crypto::key_id(suite->id(), signing_key->public_key())};
  const approval::SuiteVerifier verifier(*suite);
  CG_ASSIGN_OR_RETURN(auto root_bytes,
                      crypto::read_file(k.trust_root, limits::trust_root_bytes_max));
  CG_ASSIGN_OR_RETURN(auto r,
                      approval::TrustRoot::bootstrap(root_bytes, verifier, clock->now_ns()));
  root.emplace(std::move(r));
  const auto me = root->node(config.id);
  if (!me || me->getRole() != schema::Role::GATEWAY ||
      !crypto::ct_equal(
          {me->getSigningKey().getKeyId().begin(), me->getSigningKey().getKeyId().size()},
          signer.key_id)) {
    return unauthenticated(config.id + ": not a gateway with this signing key in the trust root");
  }
  for (const auto n : root->body().getNodes()) {
    if (n.getRole() == schema::Role::RECEIVER && n.hasAgreementKey()) {
      const auto key = n.getAgreementKey().getKey();
      streams[std::string(wire::view(n.getParty()))].receiver_public.assign(key.begin(), key.end());
    }
  }
  CG_ASSIGN_OR_RETURN(
      env, store::Env::open({.path = config.store, .map_bytes = config.store_bytes_max}));
  CG_ASSIGN_OR_RETURN(auto ib, ingest::Inbox::open(*env));
  inbox.emplace(std::move(ib));
  CG_ASSIGN_OR_RETURN(auto sl, sentlog::SentLog::open(*env));
  sent.emplace(std::move(sl));
  CG_ASSIGN_OR_RETURN(auto q, quarantine::Quarantine::open(*env));
  held.emplace(std::move(q));
  CG_ASSIGN_OR_RETURN(auto a, audit::AuditLog::open(*env, config.id));
  audit_log.emplace(std::move(a));
  CG_ASSIGN_OR_RETURN(
      approver,
      approval::Approver::open(
          *env, config.party, *root, std::make_shared<approval::SuiteVerifier>(*suite),
          [](std::string_view text) -> Result<approval::CompiledPolicy> {
            CG_ASSIGN_OR_RETURN(auto p, policy::Policy::parse(text, "rules bundle"));
            return approval::CompiledPolicy(std::shared_ptr<const policy::Policy>(std::move(p)));
          }));
  // Link.
  const auto& lo = config.links_out[0];
  CG_ASSIGN_OR_RETURN(auto lk, crypto::read_link_key_file(lo.key_file));
  link_key.emplace(std::move(lk));
  link::SenderOptions so;
  so.settings = link_settings(lo);
  so.pace_bytes_per_s = lo.rate_bytes_per_s;
  so.interleave_depth = lo.interleave_depth;
  CG_RETURN_IF_ERROR(link::validate(so));
  CG_ASSIGN_OR_RETURN(link_tx, link::UdpSender::open(so, lo.peer, *link_key, *clock));
  // Ingest last: nothing is accepted before everything behind it works.
  ingest::ServerOptions io;
  io.endpoint = config.ingest->listen;
  CG_ASSIGN_OR_RETURN(io.secret_z85, read_first_line(config.ingest->curve_secret_file));
  for (const auto& s : config.ingest->sources) io.sources.push_back({s.id, s.curve_public});
  io.batch_items_max = config.ingest->batch_items_max;
  io.inbox_items_max = config.ingest->inbox_items_max;
  ingest_server = std::make_unique<ingest::Server>(io, *env, *inbox, *clock);
  return ingest_server->start();
}

Result<crypto::EpochKey*> GatewayNode::Impl::epoch_for(
    const std::string& party, std::uint64_t first_seq,
    std::vector<std::vector<std::uint8_t>>& announcements) {
  auto it = streams.find(party);
  if (it == streams.end())
    return rejected("no receiver of party '" + party + "' in the trust root");
  auto& s = it->second;
  const std::int64_t now = clock->now_ns();
  if (!s.epoch ||
      s.epoch->due_for_rotation(config.pipeline->epoch_items_max,
                                std::int64_t{config.pipeline->epoch_seconds} * ns_per_s, now)) {
    // The epoch number is the start time: unique and increasing across restarts.
    auto started = envelope::start_epoch(signer, party, 0, static_cast<std::uint64_t>(now),
                                         first_seq, s.receiver_public, nullptr, now);
    if (!started.ok()) return started.status();
    announcements.push_back(std::move(started->announcement));
    s.epoch.emplace(std::move(started->key));
    counters.epochs_started.fetch_add(1);
  }
  return &*s.epoch;
}

Result<bool> GatewayNode::Impl::pass() {
  const std::int64_t now = clock->now_ns();
  auto bundle = approver->usable(now);
  if (!bundle.ok()) {
    if (counters.waits_no_bundle.fetch_add(1) % 100 == 0)
      log_line(config.id, bundle.status().reason());
    return false;
  }
  const auto& rules = *std::static_pointer_cast<const policy::Policy>((*bundle)->policy);
  CG_ASSIGN_OR_RETURN(auto pending, inbox->read_pending(config.pipeline->batch_items_max));
  if (pending.empty()) return false;
  CG_ASSIGN_OR_RETURN(auto evaluator, policy::Evaluator::create(rules));
  CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
  struct Out {
    std::string party;
    std::uint64_t seq;
    schema::Precedence precedence;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<Out> out;
  std::map<std::string, std::vector<envelope::Sealed>> batches;   // routine, per party
  std::vector<std::pair<std::string, envelope::Sealed>> singles;  // FLASH, signed alone
  std::vector<std::vector<std::uint8_t>> announcements;
  policy::Decision d;
  for (const auto& entry : pending) {
    auto item = wire::decode_canonical_item(entry.item);
    if (!item.ok()) {  // stored by ingest after validation: a store fault, not input
      return io_error("inbox entry " + std::to_string(entry.seq) + ": " + item.status().reason());
    }
    counters.items_judged.fetch_add(1);
    for (std::uint32_t di = 0; di < rules.destinations().size(); ++di) {
      const auto& dest = rules.destinations()[di];
      if (!streams.count(dest.party)) continue;  // no receiver: nothing can be sealed for it
      evaluator.decide(item->root(), di, d);
      const std::string why = policy::explain_text(rules, item->root(), d);
      audit::Event ev{.time_ns = now,
                      .item_id = {item->root().getId().begin(), item->root().getId().size()},
                      .origin = config.id,
                      .destination = dest.party,
                      .rules_version = (*bundle)->version,
                      .reason = policy::reason_name(d.reason),
                      .detail = why};
      if (d.outcome == policy::Outcome::block) {
        ev.event = schema::AuditEvent::BLOCKED;
        CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
        counters.blocked.fetch_add(1);
        continue;
      }
      if (d.outcome == policy::Outcome::quarantine) {
        ev.event = schema::AuditEvent::QUARANTINED;
        CG_RETURN_IF_ERROR(
            held->hold(txn, now, dest.id, (*bundle)->version, why, entry.item).status());
        CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
        counters.quarantined.fetch_add(1);
        continue;
      }
      std::vector<std::uint8_t> released;
      if (d.changed) {
        capnp::MallocMessageBuilder mb;
        policy::build_released(rules, item->root(), d, mb.initRoot<schema::Item>());
        auto c = wire::canonical(mb.getRoot<schema::Item>().asReader());
        released.assign(c.canonical_bytes().begin(), c.canonical_bytes().end());
        counters.redacted.fetch_add(1);
      } else {
        released = entry.item;
      }
      const sentlog::StreamId sid{dest.party, 0};
      CG_ASSIGN_OR_RETURN(const std::uint64_t seq, sent->next_seq(txn, sid));
      CG_ASSIGN_OR_RETURN(auto* epoch, epoch_for(dest.party, seq, announcements));
      envelope::HeaderFields f;
      f.destination = dest.party;
      f.seq = seq;
      f.time_ns = now;
      f.precedence = item->root().getPrecedence();
      f.kind = item->root().getKind();
      f.rules_version = (*bundle)->version;
      f.rules_hash = (*bundle)->hash;
      CG_ASSIGN_OR_RETURN(auto sealed, envelope::seal(signer, f, *epoch, released));
      ev.event = d.changed ? schema::AuditEvent::REDACTED : schema::AuditEvent::RELEASED;
      ev.seq = seq;
      CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
      if (f.precedence == schema::Precedence::FLASH)
        singles.emplace_back(dest.party, std::move(sealed));
      else
        batches[dest.party].push_back(std::move(sealed));
      counters.released.fetch_add(1);
    }
  }
  auto emit = [&](const std::string& party, std::span<const envelope::Sealed> batch,
                  schema::Precedence p) -> Status {
    CG_ASSIGN_OR_RETURN(
        auto bytes,
        envelope::sign_batch(
            signer, clock->now_ns() + static_cast<std::int64_t>(counters.batches.fetch_add(1)),
            batch));
    for (std::size_t i = 0; i < batch.size(); ++i) {
      CG_RETURN_IF_ERROR(sent->put(txn, {party, 0}, batch[i].seq, now, bytes[i]));
      out.push_back({party, batch[i].seq, p, std::move(bytes[i])});
    }
    return {};
  };
  for (auto& [party, s] : singles)
    CG_RETURN_IF_ERROR(emit(party, std::span(&s, 1), schema::Precedence::FLASH));
  for (auto& [party, b] : batches) {
    for (std::size_t at = 0; at < b.size(); at += limits::batch_items_max) {
      const auto n = std::min<std::size_t>(limits::batch_items_max, b.size() - at);
      CG_RETURN_IF_ERROR(emit(party, std::span(b).subspan(at, n), schema::Precedence::ROUTINE));
    }
  }
  CG_RETURN_IF_ERROR(inbox->consume_through(txn, pending.back().seq));
  CG_RETURN_IF_ERROR(txn.commit());
  // Durable: now it may cross. Announcements first, repeated so a receiver that lost one
  // still gets it.
  for (const auto& a : announcements) {
    for (;;) {
      auto s = link_tx->submit_control(a, 20);
      if (s.ok()) break;
      if (s.status().code() != Code::overloaded) return s.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  // The link's sequence numbers must be consecutive per link; envelopes of one party are.
  std::stable_sort(out.begin(), out.end(),
                   [](const Out& a, const Out& b) { return a.seq < b.seq; });
  for (const auto& o : out) {
    for (;;) {  // back-pressure: the pipeline waits for the paced link
      Status s =
          link_tx->submit(o.seq, o.bytes,
                          o.precedence == schema::Precedence::FLASH ? link::Precedence::flash
                                                                    : link::Precedence::routine);
      if (s.ok()) break;
      if (s.code() != Code::overloaded) return s;
      if (stopping.load()) return s;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    counters.envelopes_sent.fetch_add(1);
  }
  return true;
}

void GatewayNode::Impl::run() {
  while (!stopping.load()) {
    auto did = pass();
    if (!did.ok()) {
      counters.pipeline_errors.fetch_add(1);
      log_line(config.id, "pipeline: " + did.status().reason());
      // Seqs reserved in the aborted transaction will be reserved again: new epochs, so no
      // (key, nonce) pair is ever used twice.
      for (auto& [party, s] : streams) s.epoch.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } else if (!*did) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

GatewayNode::GatewayNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GatewayNode::~GatewayNode() { stop(); }

Result<std::unique_ptr<GatewayNode>> GatewayNode::start(const config::NodeConfig& config,
                                                        const Clock& clock) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->clock = &clock;
  CG_RETURN_IF_ERROR(impl->load());
  std::unique_ptr<GatewayNode> node(new GatewayNode(std::move(impl)));
  if (auto v = node->reload_rules(); !v.ok()) log_line(config.id, v.status().reason());
  node->impl_->pipeline = std::thread([n = node->impl_.get()] { n->run(); });
  return node;
}

Result<std::uint64_t> GatewayNode::reload_rules() {
  CG_ASSIGN_OR_RETURN(auto bytes, crypto::read_file(impl_->config.pipeline->rules_bundle,
                                                    limits::rules_bundle_bytes_max));
  CG_ASSIGN_OR_RETURN(auto b, impl_->approver->offer(bytes, impl_->clock->now_ns()));
  return b->version;
}

std::uint64_t GatewayNode::rules_version() const {
  auto b = impl_->approver->current();
  return b ? b->version : 0;
}

void GatewayNode::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  if (impl_->ingest_server) impl_->ingest_server->stop();
  if (impl_->pipeline.joinable()) impl_->pipeline.join();
  if (impl_->link_tx) {
    for (int i = 0; i < 500 && !impl_->link_tx->idle(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    impl_->link_tx->stop();
  }
}

const std::string& GatewayNode::ingest_endpoint() const { return impl_->ingest_server->endpoint(); }
const GatewayCounters& GatewayNode::counters() const { return impl_->counters; }

}  // namespace cg::node
