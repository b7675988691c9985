#include "gateway/signatory/signatory.h"

#include <capnp/message.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "crypto/suite.h"
#include "gateway/common/limits.h"
#include "gateway/envelope/envelope.h"
#include "gateway/guard/guard.h"
#include "gateway/quarantine/quarantine.h"

namespace cg::signatory {
namespace {

using Bytes = std::span<const std::uint8_t>;

constexpr wire::DecodeLimits guard_limits{limits::guard_message_bytes_max,
                                          limits::guard_traversal_words_max};
constexpr std::size_t approvals_max = 64;  // far above any party's reviewers
constexpr std::size_t key_id_bytes_max = 64, signature_bytes_max = 8192;
// Answers pruned per request (the filter's committedThrough moves by at most a request's
// releases at a time, so this keeps up).
constexpr std::size_t prune_per_request_max = 2 * limits::guard_releases_max;

Bytes bytes_of(capnp::Data::Reader d) { return {d.begin(), d.size()}; }

Status check_text(capnp::Text::Reader t, const std::string& what) {
  if (!wire::is_clean_name(wire::view(t))) return malformed(what + ": not a clean name");
  return {};
}

Status validate_release(schema::GuardRelease::Reader r, const std::string& at) {
  CG_RETURN_IF_ERROR(check_text(r.getDestination(), at + ".destination"));
  if (r.getHandoff() == 0) return malformed(at + ".handoff: 0 (ids start at 1)");
  if (r.getOriginal().size() == 0 || r.getOriginal().size() > limits::item_bytes_max)
    return malformed(at + ".original: empty or above " + std::to_string(limits::item_bytes_max));
  if (r.getReleased().size() == 0 || r.getReleased().size() > limits::item_bytes_max)
    return malformed(at + ".released: empty or above " + std::to_string(limits::item_bytes_max));
  if (r.getRemoved().size() > limits::portions_per_item_max)
    return malformed(at + ".removed: more than " + std::to_string(limits::portions_per_item_max));
  if (r.getApprovals().size() > approvals_max)
    return malformed(at + ".approvals: more than " + std::to_string(approvals_max));
  if (r.getHold() == 0 && r.getApprovals().size() > 0)
    return malformed(at + ".approvals: present on a release by the policy (hold 0)");
  for (unsigned i = 0; i < r.getApprovals().size(); ++i) {
    const auto a = r.getApprovals()[i];
    const std::string w = at + ".approvals[" + std::to_string(i) + "]";
    if (a.getKeyId().size() == 0 || a.getKeyId().size() > key_id_bytes_max)
      return malformed(w + ".keyId: empty or too long");
    if (a.getSignature().size() == 0 || a.getSignature().size() > signature_bytes_max)
      return malformed(w + ".signature: empty or too long");
  }
  return {};
}

Status validate_request_root(schema::GuardRequest::Reader r) {
  switch (r.which()) {
    case schema::GuardRequest::BUNDLE:
      if (r.getBundle().size() == 0 || r.getBundle().size() > limits::rules_bundle_bytes_max)
        return malformed("request.bundle: empty or above the bundle size limit");
      return {};
    case schema::GuardRequest::SEAL: {
      const auto s = r.getSeal();
      if (s.getBundleHash().size() == 0 || s.getBundleHash().size() > 64)
        return malformed("request.seal.bundleHash: empty or longer than 64 bytes");
      const auto rs = s.getReleases();
      if (rs.size() == 0 || rs.size() > limits::guard_releases_max)
        return malformed("request.seal.releases: 0 or more than " +
                         std::to_string(limits::guard_releases_max));
      std::uint64_t last = 0;
      for (unsigned i = 0; i < rs.size(); ++i) {
        const std::string at = "request.seal.releases[" + std::to_string(i) + "]";
        CG_RETURN_IF_ERROR(validate_release(rs[i], at));
        if (rs[i].getHandoff() <= last)
          return malformed(at + ".handoff: not above the one before (ids ascend, once each)");
        last = rs[i].getHandoff();
      }
      return {};
    }
    case schema::GuardRequest::STREAM_HEAD:
      return check_text(r.getStreamHead().getDestination(), "request.streamHead.destination");
  }
  return malformed("request: unknown kind " + std::to_string(static_cast<unsigned>(r.which())));
}

Status validate_reply_root(schema::GuardReply::Reader r) {
  switch (r.which()) {
    case schema::GuardReply::REFUSED:
      if (r.getRefused().size() > 64u << 10) return malformed("reply.refused: too long");
      return {};
    case schema::GuardReply::NEED_BUNDLE:
    case schema::GuardReply::BUNDLE_VERSION:
      return {};
    case schema::GuardReply::ANSWERS: {
      const auto as = r.getAnswers();
      if (as.size() > limits::guard_releases_max)
        return malformed("reply.answers: more than " + std::to_string(limits::guard_releases_max));
      for (unsigned i = 0; i < as.size(); ++i) {
        const std::string at = "reply.answers[" + std::to_string(i) + "]";
        const auto a = as[i];
        if (a.which() == schema::GuardAnswer::SIGNED) {
          const auto s = a.getSigned();
          if (s.getSeq() == 0) return malformed(at + ".signed.seq: 0");
          if (s.getEnvelope().size() == 0 || s.getEnvelope().size() > limits::envelope_bytes_max)
            return malformed(at + ".signed.envelope: empty or above the envelope size limit");
          if (s.getAnnouncement().size() > 64u << 10)
            return malformed(at + ".signed.announcement: too long");
        } else if (a.which() == schema::GuardAnswer::REFUSED) {
          if (a.getRefused().size() > 64u << 10) return malformed(at + ".refused: too long");
        } else {
          return malformed(at + ": unknown kind");
        }
      }
      return {};
    }
    case schema::GuardReply::STREAM_HEAD:
      if (r.getStreamHead().size() == 0 || r.getStreamHead().size() > 64u << 10)
        return malformed("reply.streamHead: empty or too long");
      return {};
  }
  return malformed("reply: unknown kind " + std::to_string(static_cast<unsigned>(r.which())));
}

// One answer, as stored and as sent.
struct Answer {
  std::uint64_t handoff = 0;
  bool signed_ok = false;
  std::uint64_t seq = 0;
  std::vector<std::uint8_t> envelope, announcement;
  std::string refused;
};

void fill(schema::GuardAnswer::Builder b, const Answer& a) {
  b.setHandoff(a.handoff);
  if (a.signed_ok) {
    auto s = b.initSigned();
    s.setSeq(a.seq);
    s.setEnvelope(kj::arrayPtr(a.envelope.data(), a.envelope.size()));
    s.setAnnouncement(kj::arrayPtr(a.announcement.data(), a.announcement.size()));
  } else {
    b.setRefused(a.refused);
  }
}

std::vector<std::uint8_t> encode_answer(const Answer& a) {
  capnp::MallocMessageBuilder mb;
  fill(mb.initRoot<schema::GuardAnswer>(), a);
  return wire::to_flat_bytes(mb);
}

Result<Answer> decode_answer(Bytes bytes) {
  auto m = wire::decode_message<schema::GuardAnswer>(
      bytes, guard_limits, [](schema::GuardAnswer::Reader r) -> Status {
        if (r.which() == schema::GuardAnswer::SIGNED) {
          (void)r.getSigned().getEnvelope();
          (void)r.getSigned().getAnnouncement();
        } else {
          (void)r.getRefused();
        }
        return {};
      });
  if (!m.ok()) return io_error("signatory: a stored answer: " + m.status().reason());
  const auto r = m->root();
  Answer a;
  a.handoff = r.getHandoff();
  if (r.which() == schema::GuardAnswer::SIGNED) {
    a.signed_ok = true;
    a.seq = r.getSigned().getSeq();
    const auto e = r.getSigned().getEnvelope();
    const auto n = r.getSigned().getAnnouncement();
    a.envelope.assign(e.begin(), e.end());
    a.announcement.assign(n.begin(), n.end());
  } else {
    a.refused = std::string(wire::view(r.getRefused()));
  }
  return a;
}

std::vector<std::uint8_t> reply_refused(const std::string& why) {
  capnp::MallocMessageBuilder mb;
  mb.initRoot<schema::GuardReply>().setRefused(why);
  return wire::to_flat_bytes(mb);
}

}  // namespace

Result<wire::Message<schema::GuardRequest>> decode_request(Bytes bytes) {
  return wire::decode_message<schema::GuardRequest>(bytes, guard_limits, validate_request_root);
}

Result<wire::Message<schema::GuardReply>> decode_reply(Bytes bytes) {
  return wire::decode_message<schema::GuardReply>(bytes, guard_limits, validate_reply_root);
}

struct Signatory::Impl {
  store::Env* env = nullptr;
  SignatoryOptions options;
  approval::TrustRoot root;
  approval::Approver* approver = nullptr;
  const Clock* clock = nullptr;
  const crypto::Suite* suite = nullptr;
  envelope::Signer signer;
  std::string party;
  store::Table answers, seqs, holds;
  SignatoryCounters counters;
  std::uint64_t batch_ids = 0;

  struct Stream {
    std::vector<std::uint8_t> receiver_public;
    std::optional<crypto::EpochKey> epoch;
  };
  std::map<std::string, Stream> streams;
  // The guard's own check, compiled for the bundle it checks against.
  std::shared_ptr<const approval::Bundle> guard_bundle;
  std::unique_ptr<guard::Guard> guard;
  guard::Claim claim;

  explicit Impl(approval::TrustRoot r) : root(std::move(r)) {}

  std::vector<std::uint8_t> handle(Bytes request);
  std::vector<std::uint8_t> offer_bundle(Bytes bundle);
  std::vector<std::uint8_t> seal(schema::GuardSeal::Reader s);
  std::vector<std::uint8_t> stream_head(schema::GuardStreamHead::Reader h);
  Status prune(store::WriteTxn& txn, std::uint64_t through);
  // Checks one release; on success `released` holds the decoded released item and `party`
  // its destination party. The refusal's reason otherwise.
  Status check(const std::shared_ptr<const approval::Bundle>& bundle,
               schema::GuardRelease::Reader r, std::optional<wire::Message<schema::Item>>& released,
               std::string& to_party, store::WriteTxn& txn);
  Status check_approvals(schema::GuardRelease::Reader r, const std::string& destination,
                         store::WriteTxn& txn);
  Result<crypto::EpochKey*> epoch_for(const std::string& to, std::uint64_t first_seq,
                                      std::vector<std::uint8_t>& announcement);
};

std::vector<std::uint8_t> Signatory::Impl::handle(Bytes request) {
  counters.requests.fetch_add(1);
  auto req = decode_request(request);
  if (!req.ok()) {
    counters.malformed.fetch_add(1);
    return reply_refused("guard: " + req.status().reason());
  }
  const auto r = req->root();
  switch (r.which()) {
    case schema::GuardRequest::BUNDLE:
      return offer_bundle(bytes_of(r.getBundle()));
    case schema::GuardRequest::SEAL:
      return seal(r.getSeal());
    case schema::GuardRequest::STREAM_HEAD:
      return stream_head(r.getStreamHead());
  }
  counters.malformed.fetch_add(1);
  return reply_refused("guard: unknown request");
}

std::vector<std::uint8_t> Signatory::Impl::offer_bundle(Bytes bundle) {
  auto b = approver->offer(bundle, clock->now_ns());
  if (!b.ok()) return reply_refused("guard: rules bundle refused: " + b.status().reason());
  capnp::MallocMessageBuilder mb;
  mb.initRoot<schema::GuardReply>().setBundleVersion((*b)->version);
  return wire::to_flat_bytes(mb);
}

std::vector<std::uint8_t> Signatory::Impl::stream_head(schema::GuardStreamHead::Reader h) {
  const std::string to(wire::view(h.getDestination()));
  auto last = [&]() -> Result<std::uint64_t> {
    CG_ASSIGN_OR_RETURN(auto txn, env->begin_read());
    CG_ASSIGN_OR_RETURN(auto v, txn.get(seqs, store::as_bytes(to)));
    return v ? store::from_be64(*v).value_or(0) : 0;
  }();
  if (!last.ok()) {
    counters.errors.fetch_add(1);
    return reply_refused("guard: store: " + last.status().reason());
  }
  if (!streams.count(to) || h.getSeq() == 0 || h.getSeq() > *last) {
    counters.heads_refused.fetch_add(1);
    return reply_refused("guard: stream head for " + to + " at seq " + std::to_string(h.getSeq()) +
                         " refused: the guard signed up to " + std::to_string(*last));
  }
  auto head = envelope::stream_head(signer, to, 0, h.getSeq(), clock->now_ns());
  if (!head.ok()) return reply_refused("guard: stream head: " + head.status().reason());
  counters.heads.fetch_add(1);
  capnp::MallocMessageBuilder mb;
  mb.initRoot<schema::GuardReply>().setStreamHead(kj::arrayPtr(head->data(), head->size()));
  return wire::to_flat_bytes(mb);
}

Status Signatory::Impl::prune(store::WriteTxn& txn, std::uint64_t through) {
  std::vector<std::vector<std::uint8_t>> gone;
  {
    CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(answers));
    for (auto e = cursor.next(); gone.size() < prune_per_request_max; e = cursor.next()) {
      if (!e.ok()) return e.status();
      if (!e->has_value()) break;
      const auto id = store::from_be64((*e)->first);
      if (!id || *id > through) break;
      gone.emplace_back((*e)->first.begin(), (*e)->first.end());
    }
  }
  for (const auto& k : gone) CG_RETURN_IF_ERROR(txn.erase(answers, k).status());
  return {};
}

Result<crypto::EpochKey*> Signatory::Impl::epoch_for(const std::string& to, std::uint64_t first_seq,
                                                     std::vector<std::uint8_t>& announcement) {
  auto& s = streams.at(to);
  const std::int64_t now = clock->now_ns();
  if (!s.epoch || s.epoch->due_for_rotation(options.epoch_items_max,
                                            std::int64_t{options.epoch_seconds} * ns_per_s, now)) {
    // The epoch number is the start time: unique and increasing across restarts.
    CG_ASSIGN_OR_RETURN(auto started,
                        envelope::start_epoch(signer, to, 0, static_cast<std::uint64_t>(now),
                                              first_seq, s.receiver_public, nullptr, now));
    announcement = std::move(started.announcement);
    s.epoch.emplace(std::move(started.key));
    counters.epochs_started.fetch_add(1);
  }
  return &*s.epoch;
}

Status Signatory::Impl::check_approvals(schema::GuardRelease::Reader r,
                                        const std::string& destination, store::WriteTxn& txn) {
  const std::string what = "hold " + std::to_string(r.getHold());
  if (!std::ranges::equal(bytes_of(r.getReleased()), bytes_of(r.getOriginal())))
    return rejected(what + ": a reviewer release must send the held bytes unchanged");
  CG_ASSIGN_OR_RETURN(auto done, txn.get(holds, store::be64(r.getHold())));
  if (done) return rejected(what + ": already released once");
  const auto p = root.party(party);
  if (!p) return rejected(what + ": party " + party + " is not in the trust root");
  quarantine::Held held;
  held.id = r.getHold();
  held.destination = destination;
  held.item.assign(r.getOriginal().begin(), r.getOriginal().end());
  const approval::SuiteVerifier verifier(*suite);
  std::set<std::string> names;
  std::set<std::vector<std::uint8_t>> keys;
  for (const auto a : r.getApprovals()) {
    const auto kid = bytes_of(a.getKeyId());
    if (!keys.emplace(kid.begin(), kid.end()).second)
      return rejected(what + ": one reviewer key twice (a reviewer counts once)");
    CG_ASSIGN_OR_RETURN(auto name, quarantine::Quarantine::authorize(
                                       quarantine::Decision::release, held, {}, root, party, kid,
                                       bytes_of(a.getSignature()), verifier));
    if (!names.insert(name).second)
      return rejected(what + ": reviewer " + name + " twice (a reviewer counts once)");
  }
  if (names.size() < p->getReleaseThreshold()) {
    return rejected(what + ": " + std::to_string(names.size()) + " reviewer approval(s), " + party +
                    "'s release threshold is " + std::to_string(p->getReleaseThreshold()));
  }
  return txn.put(holds, store::be64(r.getHold()), {});
}

Status Signatory::Impl::check(const std::shared_ptr<const approval::Bundle>& bundle,
                              schema::GuardRelease::Reader r,
                              std::optional<wire::Message<schema::Item>>& released,
                              std::string& to_party, store::WriteTxn& txn) {
  const auto& rules = *std::static_pointer_cast<const policy::Policy>(bundle->policy);
  const std::string destination(wire::view(r.getDestination()));
  const auto di = rules.destination_index(destination);
  if (!di) return rejected("destination '" + destination + "' is not in the approved rules");
  to_party = rules.destinations()[*di].party;
  if (!streams.count(to_party))
    return rejected("destination party '" + to_party + "' has no receiver in the trust root");
  auto original = wire::decode_canonical_item(bytes_of(r.getOriginal()));
  if (!original.ok()) return rejected("the original: " + original.status().reason());
  if (r.getHold() != 0) {
    CG_RETURN_IF_ERROR(check_approvals(r, destination, txn));
    released.emplace(std::move(*original));
    return {};
  }
  if (guard_bundle != bundle || !guard) {
    CG_ASSIGN_OR_RETURN(guard, guard::Guard::create(rules));
    guard_bundle = bundle;
  }
  claim.destination = *di;
  claim.removed.clear();
  for (const bool v : r.getRemoved()) claim.removed.push_back(v);
  return guard->check(original->root(), bytes_of(r.getReleased()), claim, &released);
}

std::vector<std::uint8_t> Signatory::Impl::seal(schema::GuardSeal::Reader s) {
  const std::int64_t now = clock->now_ns();
  // A bundle the guard has not verified: the filter offers it first (needBundle).
  if (const auto current = approver->current();
      !current || !std::ranges::equal(current->hash, bytes_of(s.getBundleHash()))) {
    counters.need_bundle.fetch_add(1);
    capnp::MallocMessageBuilder mb;
    mb.initRoot<schema::GuardReply>().setNeedBundle();
    return wire::to_flat_bytes(mb);
  }
  auto bundle = approver->usable(now);
  if (!bundle.ok()) {
    counters.no_bundle.fetch_add(1);
    return reply_refused("guard: no usable rules bundle: " + bundle.status().reason());
  }
  const auto& b = **bundle;
  const std::shared_ptr<const approval::Bundle> bp = *bundle;
  auto done = [&]() -> Result<std::vector<Answer>> {
    CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
    CG_RETURN_IF_ERROR(prune(txn, s.getCommittedThrough()));
    std::vector<Answer> out;
    std::map<std::string, std::uint64_t> last;  // per party, in this transaction
    struct ToSign {
      std::size_t answer;
      std::string party;
      schema::Precedence precedence;
      envelope::Sealed sealed;
    };
    std::vector<ToSign> to_sign;
    std::vector<std::size_t> fresh;  // answers made now (stored below)
    for (const auto r : s.getReleases()) {
      CG_ASSIGN_OR_RETURN(auto stored, txn.get(answers, store::be64(r.getHandoff())));
      if (stored) {
        CG_ASSIGN_OR_RETURN(auto a, decode_answer(*stored));
        out.push_back(std::move(a));
        counters.repeated.fetch_add(1);
        continue;
      }
      Answer a;
      a.handoff = r.getHandoff();
      std::optional<wire::Message<schema::Item>> released;
      std::string to;
      if (Status v = check(bp, r, released, to, txn); !v.ok()) {
        if (v.code() != Code::rejected && v.code() != Code::unauthenticated &&
            v.code() != Code::malformed)
          return v;  // a store fault: the whole request fails
        a.refused = v.reason();
        counters.refused.fetch_add(1);
        if (r.getHold() != 0) counters.refused_approvals.fetch_add(1);
        fresh.push_back(out.size());
        out.push_back(std::move(a));
        continue;
      }
      if (!last.count(to)) {
        CG_ASSIGN_OR_RETURN(auto v, txn.get(seqs, store::as_bytes(to)));
        last[to] = v ? store::from_be64(*v).value_or(0) : 0;
      }
      const std::uint64_t seq = ++last[to];
      CG_ASSIGN_OR_RETURN(auto* epoch, epoch_for(to, seq, a.announcement));
      const auto item = released->root();
      envelope::HeaderFields f;
      f.destination = to;
      f.seq = seq;
      f.time_ns = now;
      f.precedence = item.getPrecedence();
      f.kind = item.getKind();
      f.rules_version = b.version;
      f.rules_hash = b.hash;
      CG_ASSIGN_OR_RETURN(
          auto sealed,
          envelope::seal(signer, f, *epoch, released->canonical_bytes(), item.getBanner()));
      a.signed_ok = true;
      a.seq = seq;
      to_sign.push_back({out.size(), to, f.precedence, std::move(sealed)});
      fresh.push_back(out.size());
      out.push_back(std::move(a));
    }
    // FLASH alone; routine ones of one party together, in batches.
    std::map<std::string, std::vector<std::size_t>> routine;
    for (std::size_t i = 0; i < to_sign.size(); ++i) {
      if (to_sign[i].precedence == schema::Precedence::FLASH) {
        CG_ASSIGN_OR_RETURN(
            auto env_bytes,
            envelope::sign_batch(signer, static_cast<std::uint64_t>(now) + batch_ids++,
                                 std::span(&to_sign[i].sealed, 1)));
        out[to_sign[i].answer].envelope = std::move(env_bytes[0]);
      } else {
        routine[to_sign[i].party].push_back(i);
      }
    }
    for (auto& [to, idx] : routine) {
      std::vector<envelope::Sealed> batch;
      for (const auto i : idx) batch.push_back(std::move(to_sign[i].sealed));
      for (std::size_t at = 0; at < batch.size(); at += limits::batch_items_max) {
        const auto n = std::min<std::size_t>(limits::batch_items_max, batch.size() - at);
        CG_ASSIGN_OR_RETURN(
            auto env_bytes,
            envelope::sign_batch(signer, static_cast<std::uint64_t>(now) + batch_ids++,
                                 std::span(batch).subspan(at, n)));
        for (std::size_t k = 0; k < n; ++k)
          out[to_sign[idx[at + k]].answer].envelope = std::move(env_bytes[k]);
      }
    }
    for (const auto i : fresh)
      CG_RETURN_IF_ERROR(txn.insert(answers, store::be64(out[i].handoff), encode_answer(out[i])));
    for (const auto& [to, seq] : last)
      CG_RETURN_IF_ERROR(txn.put(seqs, store::as_bytes(to), store::be64(seq)));
    CG_RETURN_IF_ERROR(txn.commit());
    counters.signed_envelopes.fetch_add(to_sign.size());
    return out;
  }();
  if (!done.ok()) {
    // Seqs sealed in the aborted transaction will be assigned again: new epochs, so no
    // (key, nonce) pair is ever used twice.
    for (auto& [to, st] : streams) st.epoch.reset();
    counters.errors.fetch_add(1);
    return reply_refused("guard: " + done.status().reason());
  }
  capnp::MallocMessageBuilder mb;
  auto list = mb.initRoot<schema::GuardReply>().initAnswers(static_cast<unsigned>(done->size()));
  for (unsigned i = 0; i < done->size(); ++i) fill(list[i], (*done)[i]);
  return wire::to_flat_bytes(mb);
}

Result<std::unique_ptr<Signatory>> Signatory::open(store::Env& env, SignatoryOptions options,
                                                   const crypto::SigningKey& key,
                                                   approval::TrustRoot root,
                                                   approval::Approver& approver,
                                                   const Clock& clock) {
  auto impl = std::make_unique<Impl>(std::move(root));
  impl->env = &env;
  impl->options = std::move(options);
  impl->approver = &approver;
  impl->clock = &clock;
  CG_ASSIGN_OR_RETURN(impl->suite, crypto::suite(key.suite()));
  impl->signer = {impl->options.gateway, impl->suite, &key,
                  crypto::key_id(impl->suite->id(), key.public_key())};
  const auto me = impl->root.node(impl->options.gateway);
  if (!me || me->getRole() != schema::Role::GATEWAY ||
      !std::ranges::equal(bytes_of(me->getSigningKey().getKeyId()), impl->signer.key_id)) {
    return unauthenticated("guard: " + impl->options.gateway +
                           " is not a gateway with this signing key in the trust root");
  }
  impl->party = std::string(wire::view(me->getParty()));
  for (const auto n : impl->root.body().getNodes()) {
    if (n.getRole() == schema::Role::RECEIVER && n.hasAgreementKey() &&
        wire::view(n.getParty()) != impl->party) {
      const auto k = n.getAgreementKey().getKey();
      impl->streams[std::string(wire::view(n.getParty()))].receiver_public.assign(k.begin(),
                                                                                  k.end());
    }
  }
  CG_ASSIGN_OR_RETURN(impl->answers, env.table("guard_answers"));
  CG_ASSIGN_OR_RETURN(impl->seqs, env.table("guard_seqs"));
  CG_ASSIGN_OR_RETURN(impl->holds, env.table("guard_holds"));
  return std::unique_ptr<Signatory>(new Signatory(std::move(impl)));
}

Signatory::Signatory(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Signatory::~Signatory() = default;

std::vector<std::uint8_t> Signatory::handle(std::span<const std::uint8_t> request) {
  return impl_->handle(request);
}

const SignatoryCounters& Signatory::counters() const { return impl_->counters; }

}  // namespace cg::signatory
