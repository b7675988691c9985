#include "gateway/approval/approval.h"

#include <algorithm>
#include <set>

#include "gateway/common/assert.h"
#include "gateway/common/hex.h"
#include "gateway/wire/wire.h"

namespace cg::approval {
namespace {

std::string when(std::int64_t ns) { return wire::format_rfc3339(ns); }

Status validate_bundle(schema::RulesBundle::Reader bundle) {
  const auto body = bundle.getBody();
  if (!wire::is_clean_name(wire::view(body.getParty()))) {
    return malformed("rules bundle: bad party name");
  }
  if (body.getVersion() == 0) return malformed("rules bundle: version must be >= 1");
  if (body.getExpires() <= body.getCreated()) {
    return malformed("rules bundle: expires must be after created");
  }
  if (body.getPreviousHash().size() > hash_bytes_max) {
    return malformed("rules bundle: previous hash too long");
  }
  const auto policy = body.getPolicy();
  if (policy.size() == 0) return malformed("rules bundle: empty policy");
  if (policy.size() > limits::policy_bytes_max) return malformed("rules bundle: policy too large");
  const std::string_view text(reinterpret_cast<const char*>(policy.begin()), policy.size());
  if (!wire::validate_text_body(text) || text.find('\0') != std::string_view::npos) {
    return malformed("rules bundle: policy is not UTF-8 text");
  }
  return trust::validate_signatures(bundle.getSignatures());
}

std::string_view policy_text(schema::RulesBundleBody::Reader body) {
  return {reinterpret_cast<const char*>(body.getPolicy().begin()), body.getPolicy().size()};
}

}  // namespace

// --- Bundles -----------------------------------------------------------------------------

std::string_view to_string(Refusal r) {
  switch (r) {
    case Refusal::malformed:
      return "malformed";
    case Refusal::unknown_party:
      return "unknown party";
    case Refusal::below_threshold:
      return "below threshold";
    case Refusal::rollback:
      return "rollback";
    case Refusal::previous_mismatch:
      return "previous hash mismatch";
    case Refusal::expired:
      return "expired";
    case Refusal::not_yet_valid:
      return "not yet valid";
    case Refusal::trust_root_expired:
      return "trust root expired";
    case Refusal::policy_invalid:
      return "policy invalid";
  }
  return "?";
}

Result<wire::Message<schema::RulesBundle>> decode_bundle(Bytes bytes) {
  return wire::decode_message<schema::RulesBundle>(bytes, wire::rules_bundle_limits,
                                                   validate_bundle);
}

std::vector<std::uint8_t> body_bytes(schema::RulesBundle::Reader bundle) {
  const auto body = wire::canonical(bundle.getBody());
  const auto b = body.canonical_bytes();
  return {b.begin(), b.end()};
}

namespace {
constexpr std::string_view highest_prefix = "highest/";
constexpr std::string_view bundle_prefix = "bundle/";
constexpr std::string_view hash_prefix = "hash/";

std::vector<std::uint8_t> key_of(std::string_view prefix, std::string_view party) {
  std::vector<std::uint8_t> k(prefix.begin(), prefix.end());
  k.insert(k.end(), party.begin(), party.end());
  return k;
}
}  // namespace

Status Approver::refuse(Refusal r, std::string detail) {
  counters_.refused[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  last_refusal_.store(r);
  return rejected("rules bundle refused: " + std::string(to_string(r)) + ": " + detail);
}

Status check_bundle_times(const TrustRoot& root, schema::RulesBundleBody::Reader body,
                          std::int64_t now_ns, Refusal* refusal) {
  const std::string v = "v" + std::to_string(body.getVersion());
  auto refuse_with = [&](Refusal r, std::string detail) {
    if (refusal != nullptr) *refusal = r;
    return rejected(std::move(detail));
  };
  if (root.expires() <= now_ns) {
    return refuse_with(
        Refusal::trust_root_expired,
        "trust root v" + std::to_string(root.version()) + " expired at " + when(root.expires()));
  }
  if (body.getExpires() <= now_ns) {
    return refuse_with(Refusal::expired, v + " expired at " + when(body.getExpires()));
  }
  if (body.getCreated() > now_ns + created_skew_ns) {
    return refuse_with(Refusal::not_yet_valid,
                       v + " was created in the future, at " + when(body.getCreated()));
  }
  return {};
}

Result<std::shared_ptr<Bundle>> Approver::check(const TrustRoot& root, Bytes bytes,
                                                std::int64_t now_ns, bool check_times) {
  auto decoded = decode_bundle(bytes);
  if (!decoded.ok()) return refuse(Refusal::malformed, decoded.status().reason());
  const auto bundle = decoded->root();
  const auto body = bundle.getBody();
  const std::string party(wire::view(body.getParty()));
  const std::string v = "v" + std::to_string(body.getVersion());
  if (party != party_) {
    return refuse(Refusal::unknown_party,
                  v + " is for party '" + party + "', this node takes '" + party_ + "'");
  }
  const auto p = root.party(party);
  if (!p) return refuse(Refusal::unknown_party, "party '" + party + "' is not in the trust root");
  const auto body_canon = body_bytes(bundle);
  const auto msg = signed_message(bundle_context, body_canon);
  const auto report = count_signatures(p->getReviewers(), p->getReviewerThreshold(), msg,
                                       bundle.getSignatures(), *verifier_);
  if (!report.met()) {
    return refuse(Refusal::below_threshold, v + " of party '" + party + "':\n" + report.describe());
  }
  if (check_times) {
    Refusal r = Refusal::malformed;
    if (auto s = check_bundle_times(root, body, now_ns, &r); !s.ok()) return refuse(r, s.reason());
  }
  auto out = std::make_shared<Bundle>();
  out->party = party;
  out->version = body.getVersion();
  out->created = body.getCreated();
  out->expires = body.getExpires();
  out->hash = verifier_->hash(body_canon);
  out->policy_text = std::string(policy_text(body));
  out->bytes = wire::to_flat_bytes(*decoded);
  return out;
}

Result<std::unique_ptr<Approver>> Approver::open(store::Env& env, std::string party, TrustRoot root,
                                                 std::shared_ptr<const Verifier> verifier,
                                                 CompilePolicy compile) {
  CG_ASSIGN_OR_RETURN(auto table, env.table("approval"));
  std::unique_ptr<Approver> a(new Approver(env, table, std::move(party), std::move(root),
                                           std::move(verifier), std::move(compile)));
  std::vector<std::uint8_t> stored;
  {
    CG_ASSIGN_OR_RETURN(auto txn, env.begin_read());
    CG_ASSIGN_OR_RETURN(auto h, txn.get(table, key_of(highest_prefix, a->party_)));
    if (h) {
      auto v = store::from_be64(*h);
      if (!v) return malformed("approval: corrupt highest version for party " + a->party_);
      MutexLock l(a->mu_);  // not shared yet; taken for the analysis
      a->highest_ = *v;
    }
    CG_ASSIGN_OR_RETURN(auto b, txn.get(table, key_of(bundle_prefix, a->party_)));
    if (b) stored.assign(b->begin(), b->end());
  }
  if (!stored.empty()) {
    // Re-checked under today's root; times are judged by usable(), so an expired bundle is
    // still current (and blocks everything, saying why) rather than silently forgotten.
    const TrustRoot today = [&] {
      MutexLock l(a->mu_);
      return a->root_;
    }();
    auto checked = a->check(today, stored, 0, /*check_times=*/false);
    if (checked.ok()) {
      auto compiled = a->compile_((*checked)->policy_text);
      if (compiled.ok()) {
        (*checked)->policy = std::move(*compiled);
        MutexLock l(a->mu_);
        a->current_ = std::move(*checked);
      } else {
        (void)a->refuse(Refusal::policy_invalid, compiled.status().reason());
      }
    }
  }
  return a;
}

Result<std::shared_ptr<const Bundle>> Approver::offer(Bytes bytes, std::int64_t now_ns) {
  MutexLock offer_lock(offer_mu_);
  TrustRoot root = [&] {
    MutexLock l(mu_);
    return root_;
  }();
  CG_ASSIGN_OR_RETURN(auto bundle, check(root, bytes, now_ns, /*check_times=*/true));
  std::vector<std::uint8_t> previous_hash;
  {
    auto decoded = decode_bundle(bundle->bytes);
    CG_ASSERT(decoded.ok());
    const auto ph = decoded->root().getBody().getPreviousHash();
    previous_hash.assign(ph.begin(), ph.end());
  }
  std::vector<std::uint8_t> last_hash;
  {
    CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
    CG_ASSIGN_OR_RETURN(auto h, txn.get(table_, key_of(hash_prefix, party_)));
    if (h) last_hash.assign(h->begin(), h->end());
  }
  const std::string v = "v" + std::to_string(bundle->version);
  {
    MutexLock l(mu_);
    if (current_ && current_->hash == bundle->hash) {
      counters_.unchanged.fetch_add(1, std::memory_order_relaxed);
      return current_;
    }
    if (bundle->version <= highest_) {
      return refuse(Refusal::rollback, v + " is not above the highest version ever loaded, v" +
                                           std::to_string(highest_));
    }
  }
  if (previous_hash != last_hash) {
    return refuse(Refusal::previous_mismatch,
                  v + " names previous " +
                      (previous_hash.empty() ? std::string("(none)") : to_hex(previous_hash)) +
                      ", the last accepted bundle is " +
                      (last_hash.empty() ? std::string("(none)") : to_hex(last_hash)));
  }
  auto compiled = compile_(bundle->policy_text);
  if (!compiled.ok()) return refuse(Refusal::policy_invalid, v + ": " + compiled.status().reason());
  bundle->policy = std::move(*compiled);
  {
    CG_ASSIGN_OR_RETURN(auto txn, env_->begin_write());
    CG_RETURN_IF_ERROR(
        txn.put(table_, key_of(highest_prefix, party_), store::be64(bundle->version)));
    CG_RETURN_IF_ERROR(txn.put(table_, key_of(bundle_prefix, party_), bundle->bytes));
    CG_RETURN_IF_ERROR(txn.put(table_, key_of(hash_prefix, party_), bundle->hash));
    CG_RETURN_IF_ERROR(txn.commit());
  }
  std::shared_ptr<const Bundle> result = std::move(bundle);
  {
    MutexLock l(mu_);
    highest_ = result->version;
    current_ = result;
  }
  counters_.accepted.fetch_add(1, std::memory_order_relaxed);
  return result;
}

std::shared_ptr<const Bundle> Approver::current() const {
  MutexLock l(mu_);
  return current_;
}

std::uint64_t Approver::highest_version() const {
  MutexLock l(mu_);
  return highest_;
}

Result<std::shared_ptr<const Bundle>> Approver::usable(std::int64_t now_ns) const {
  MutexLock l(mu_);
  if (root_.expires() <= now_ns) {
    return rejected("fail closed: trust root v" + std::to_string(root_.version()) + " expired at " +
                    when(root_.expires()) + "; nothing is released");
  }
  if (!current_) {
    return rejected("fail closed: no approved rules bundle for party '" + party_ +
                    "'; nothing is released");
  }
  if (current_->expires <= now_ns) {
    return rejected("fail closed: rules bundle v" + std::to_string(current_->version) +
                    " of party '" + party_ + "' expired at " + when(current_->expires) +
                    "; nothing is released until reviewers approve a new one");
  }
  return current_;
}

Status Approver::set_trust_root(TrustRoot root, std::int64_t now_ns) {
  MutexLock offer_lock(offer_mu_);
  std::shared_ptr<const Bundle> cur = current();
  std::shared_ptr<const Bundle> keep;
  if (cur) {
    auto rechecked = check(root, cur->bytes, now_ns, /*check_times=*/false);
    if (rechecked.ok()) keep = cur;
  }
  MutexLock l(mu_);
  root_ = std::move(root);
  current_ = keep;
  return {};
}

// --- Reviewer side -----------------------------------------------------------------------

Result<wire::Message<schema::RulesBundle>> propose(std::string_view party, std::string_view policy,
                                                   const schema::RulesBundle::Reader* previous,
                                                   std::int64_t created_ns, std::int64_t expires_ns,
                                                   const Verifier& verifier) {
  capnp::MallocMessageBuilder mb;
  auto b = mb.initRoot<schema::RulesBundle>();
  auto body = b.initBody();
  body.setParty(capnp::Text::Reader(party.data(), party.size()));
  body.setCreated(created_ns);
  body.setExpires(expires_ns);
  body.setPolicy(
      capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(policy.data()), policy.size()));
  if (previous != nullptr) {
    if (wire::view(previous->getBody().getParty()) != party) {
      return malformed("previous bundle is for party '" +
                       std::string(wire::view(previous->getBody().getParty())) + "'");
    }
    body.setVersion(previous->getBody().getVersion() + 1);
    const auto h = verifier.hash(body_bytes(*previous));
    body.setPreviousHash(capnp::Data::Reader(h.data(), h.size()));
  } else {
    body.setVersion(1);
  }
  CG_RETURN_IF_ERROR(validate_bundle(b.asReader()));
  return wire::canonical(b.asReader());
}

Result<wire::Message<schema::RulesBundle>> add_signature(schema::RulesBundle::Reader bundle,
                                                         Bytes key_id, const SignFn& sign) {
  const auto msg = signed_message(bundle_context, body_bytes(bundle));
  return trust::with_signature(bundle, msg, key_id, sign);
}

}  // namespace cg::approval
