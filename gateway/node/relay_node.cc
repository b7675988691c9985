#include "gateway/node/relay_node.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/audit/audit.h"
#include "gateway/deliver/deliver.h"
#include "gateway/envelope/envelope.h"
#include "gateway/link/link.h"
#include "gateway/node/node_common.h"
#include "gateway/relay/oversight.h"
#include "gateway/translog/translog.h"

namespace cg::node {
namespace {}  // namespace

struct RelayNode::Impl {
  config::NodeConfig config;
  const Clock* clock = nullptr;
  const crypto::Suite* suite = nullptr;
  std::unique_ptr<crypto::SigningKey> signing_key;
  envelope::Signer signer;
  std::optional<approval::TrustRoot> root;
  std::optional<relay::Oversight> oversight;
  std::unique_ptr<store::Env> env;
  std::optional<translog::Log> log;
  std::optional<deliver::DedupeWindow> seen;
  std::optional<audit::AuditLog> audit_log;
  std::vector<crypto::Secret> keys_in, keys_out;
  struct In {
    std::string party;
    std::optional<LinkInbox> handler;
    std::unique_ptr<link::UdpReceiver> rx;
    std::thread thread;
  };
  std::vector<std::unique_ptr<In>> ins;
  std::map<std::string, std::unique_ptr<link::UdpSender>> outs;  // by destination party
  std::map<std::string, std::uint64_t> out_seq;                  // guarded by write_mu
  std::mutex write_mu;  // one batch through log + countersign + link at a time
  std::atomic<bool> stopping{false};
  RelayCounters counters;

  Status load();
  void run(In& in);
  Status process(In& in);
};

Status RelayNode::Impl::load() {
  if (!config.keys || !config.relay || config.links_in.empty() || config.links_out.empty()) {
    return malformed(config.source_file +
                     ": a relay needs [keys], [relay], [[link_in]] and [[link_out]]");
  }
  CG_ASSIGN_OR_RETURN(auto pass, passphrase(*config.keys));
  CG_ASSIGN_OR_RETURN(signing_key, crypto::load_signing_key_file(config.keys->signing_key,
                                                                 pass ? &*pass : nullptr, !pass));
  CG_ASSIGN_OR_RETURN(suite, crypto::suite(signing_key->suite()));
  signer = {config.id, suite, signing_key.get(),
            crypto::key_id(suite->id(), signing_key->public_key())};
  const approval::SuiteVerifier verifier(*suite);
  CG_ASSIGN_OR_RETURN(auto root_bytes,
                      crypto::read_file(config.keys->trust_root, limits::trust_root_bytes_max));
  CG_ASSIGN_OR_RETURN(auto r,
                      approval::TrustRoot::bootstrap(root_bytes, verifier, clock->now_ns()));
  root.emplace(std::move(r));
  const auto me = root->node(config.id);
  if (!me || me->getRole() != schema::Role::RELAY ||
      !crypto::ct_equal(
          {me->getSigningKey().getKeyId().begin(), me->getSigningKey().getKeyId().size()},
          signer.key_id)) {
    return unauthenticated(config.id + ": not a relay with this signing key in the trust root");
  }
  CG_ASSIGN_OR_RETURN(auto o, relay::Oversight::from_config(*config.relay));
  oversight.emplace(std::move(o));
  CG_ASSIGN_OR_RETURN(
      env, store::Env::open({.path = config.store, .map_bytes = config.store_bytes_max}));
  CG_ASSIGN_OR_RETURN(auto l, translog::Log::open(*env, "relay", crypto::hasher_of(*suite)));
  log.emplace(std::move(l));
  CG_ASSIGN_OR_RETURN(auto d, deliver::DedupeWindow::open(*env));
  seen.emplace(std::move(d));
  CG_ASSIGN_OR_RETURN(auto a, audit::AuditLog::open(*env, config.id));
  audit_log.emplace(std::move(a));
  for (const auto& lo : config.links_out) {
    CG_ASSIGN_OR_RETURN(auto k, crypto::read_link_key_file(lo.key_file));
    keys_out.push_back(std::move(k));
  }
  for (std::size_t i = 0; i < config.links_out.size(); ++i) {
    const auto& lo = config.links_out[i];
    link::SenderOptions so;
    so.settings = link_settings(lo);
    so.pace_bytes_per_s = lo.rate_bytes_per_s;
    so.interleave_depth = lo.interleave_depth;
    CG_RETURN_IF_ERROR(link::validate(so));
    CG_ASSIGN_OR_RETURN(outs[lo.party], link::UdpSender::open(so, lo.peer, keys_out[i], *clock));
  }
  for (const auto& li : config.links_in) {
    CG_ASSIGN_OR_RETURN(auto k, crypto::read_link_key_file(li.key_file));
    keys_in.push_back(std::move(k));
  }
  for (std::size_t i = 0; i < config.links_in.size(); ++i) {
    const auto& li = config.links_in[i];
    auto in = std::make_unique<In>();
    in->party = li.party;
    in->handler.emplace(config.id, &counters.lost_on_links);
    link::ReceiverOptions ro;
    ro.settings = link_settings(li);
    ro.block_timeout_ns = std::int64_t{li.block_timeout_ms} * ns_per_ms;
    CG_RETURN_IF_ERROR(link::validate(ro));
    CG_ASSIGN_OR_RETURN(in->rx, link::UdpReceiver::open(ro, li.listen, li.rcvbuf_bytes, keys_in[i],
                                                        *clock, *in->handler));
    ins.push_back(std::move(in));
  }
  return {};
}

Status RelayNode::Impl::process(In& in) {
  const std::int64_t now = clock->now_ns();
  for (auto& c : in.handler->controls) {
    auto a = envelope::verify_announcement(c, *root, *suite);
    auto out = a.ok() ? outs.find(a->destination) : outs.end();
    if (!a.ok() || out == outs.end() || !root->node(a->origin) ||
        wire::view(root->node(a->origin)->getParty()) != in.party) {
      counters.announcements_refused.fetch_add(1);
      continue;
    }
    if (out->second->submit_control(c, 10).ok()) counters.announcements_forwarded.fetch_add(1);
  }
  in.handler->controls.clear();
  if (in.handler->envelopes.empty()) return {};
  std::lock_guard lock(write_mu);
  CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
  struct Accepted {
    envelope::Checked checked;
    std::uint64_t index;
  };
  std::vector<Accepted> accepted;
  for (auto& bytes : in.handler->envelopes) {
    counters.received.fetch_add(1);
    audit::Event ev{.time_ns = now, .event = schema::AuditEvent::RELAY_DROPPED};
    auto c = envelope::verify_origin(bytes, *root, *suite);
    if (!c.ok() || c->origin_party != in.party) {
      counters.refused_origin.fetch_add(1);
      const std::string why =
          c.ok() ? "origin of party " + c->origin_party + " on the link from " + in.party
                 : c.status().reason();
      ev.reason = "origin";
      ev.detail = why;
      CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
      continue;
    }
    const auto h = c->envelope.root().getHeader();
    const std::string origin(wire::view(h.getOrigin())),
        destination(wire::view(h.getDestination()));
    ev.origin = origin;
    ev.destination = destination;
    ev.stream = h.getStream();
    ev.seq = h.getSeq();
    ev.rules_version = h.getRulesVersion();
    relay::Drop drop{};
    if (auto s = oversight->check(c->origin_party, h, now, &drop); !s.ok()) {
      counters.refused_oversight.fetch_add(1);
      ev.reason = "oversight";
      ev.detail = s.reason();
      CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
      continue;
    }
    if (!outs.count(destination)) {
      counters.refused_no_route.fetch_add(1);
      ev.reason = "no link";
      CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
      continue;
    }
    CG_ASSIGN_OR_RETURN(auto verdict, seen->check_and_mark(txn, origin + ">" + destination,
                                                           h.getStream(), h.getSeq()));
    if (verdict.verdict != deliver::DedupeWindow::Verdict::fresh) {
      counters.refused_replay.fetch_add(1);
      ev.reason = "replay";
      CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
      continue;
    }
    CG_ASSIGN_OR_RETURN(const auto index, log->append(txn, c->leaf));
    ev.event = schema::AuditEvent::RELAYED;
    ev.reason = "relayed";
    CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
    accepted.push_back({std::move(*c), index});
  }
  in.handler->envelopes.clear();
  CG_RETURN_IF_ERROR(txn.commit());
  if (accepted.empty()) return {};
  CG_ASSIGN_OR_RETURN(const auto size, log->size());
  CG_ASSIGN_OR_RETURN(const auto root_hash, log->root(size));
  CG_ASSIGN_OR_RETURN(auto head,
                      envelope::sign_tree_head(signer, size, root_hash, clock->now_ns()));
  for (auto& a : accepted) {
    const auto h = a.checked.envelope.root().getHeader();
    const std::string destination(wire::view(h.getDestination()));
    CG_ASSIGN_OR_RETURN(auto proof, log->inclusion_proof(a.index, size));
    CG_ASSIGN_OR_RETURN(auto bytes,
                        envelope::countersign(signer, a.checked.envelope, a.index, head, proof));
    auto& tx = *outs[destination];
    const std::uint64_t seq = ++out_seq[destination];  // consecutive per outbound link
    const auto p = h.getPrecedence() == schema::Precedence::FLASH ? link::Precedence::flash
                                                                  : link::Precedence::routine;
    for (;;) {
      Status s = tx.submit(seq, bytes, p);
      if (s.ok()) break;
      if (s.code() != Code::overloaded || stopping.load()) return s;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    counters.relayed.fetch_add(1);
  }
  return {};
}

void RelayNode::Impl::run(In& in) {
  while (!stopping.load()) {
    if (auto s = in.rx->poll_once(10); !s.ok()) {
      counters.errors.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (auto s = process(in); !s.ok()) {
      counters.errors.fetch_add(1);
      std::fprintf(stderr, "[%s] %s\n", config.id.c_str(), s.reason().c_str());
    }
  }
}

RelayNode::RelayNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RelayNode::~RelayNode() { stop(); }

Result<std::unique_ptr<RelayNode>> RelayNode::start(const config::NodeConfig& config,
                                                    const Clock& clock) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->clock = &clock;
  CG_RETURN_IF_ERROR(impl->load());
  std::unique_ptr<RelayNode> node(new RelayNode(std::move(impl)));
  for (auto& in : node->impl_->ins) {
    Impl::In* p = in.get();
    Impl* i = node->impl_.get();
    in->thread = std::thread([i, p] { i->run(*p); });
  }
  return node;
}

void RelayNode::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  for (auto& in : impl_->ins) {
    if (in->thread.joinable()) in->thread.join();
  }
  for (auto& [party, tx] : impl_->outs) {
    for (int i = 0; i < 500 && !tx->idle(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    tx->stop();
  }
}

std::vector<std::uint16_t> RelayNode::link_in_ports() const {
  std::vector<std::uint16_t> out;
  for (const auto& in : impl_->ins) out.push_back(in->rx->port());
  return out;
}

const RelayCounters& RelayNode::counters() const { return impl_->counters; }

}  // namespace cg::node
