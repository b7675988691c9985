#include "gateway/approval/approval.h"

#include <algorithm>
#include <set>

#include "gateway/common/assert.h"
#include "gateway/common/hex.h"
#include "gateway/wire/wire.h"

namespace cg::approval {
namespace {

Bytes data_bytes(capnp::Data::Reader d) { return {d.begin(), d.size()}; }

bool same(Bytes a, Bytes b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

std::string when(std::int64_t ns) { return wire::format_rfc3339(ns); }

bool known_suite(schema::Suite s) {
  return s == schema::Suite::MODERN || s == schema::Suite::MODERN_AES || s == schema::Suite::CNSA;
}

// Structural rules of one public key (inside the kj boundary of a decode).
Status validate_key(schema::PublicKey::Reader k, const Verifier& verifier, std::string_view at) {
  const std::string where(at);
  if (!known_suite(k.getSuite())) return malformed(where + ": unknown suite");
  if (k.getKey().size() == 0 || k.getKey().size() > public_key_bytes_max) {
    return malformed(where + ": key must be 1.." + std::to_string(public_key_bytes_max) + " bytes");
  }
  if (!wire::is_clean_name(wire::view(k.getName()))) return malformed(where + ": bad name");
  const auto id = verifier.key_id(k);
  if (!same(data_bytes(k.getKeyId()), id)) {
    return malformed(where + " (" + std::string(wire::view(k.getName())) +
                     "): keyId is not the hash of the key");
  }
  return {};
}

// A list of keys with unique ids and names, each valid; `threshold` between 1 and the count.
Status validate_key_set(capnp::List<schema::PublicKey>::Reader keys, std::size_t threshold,
                        const Verifier& verifier, const std::string& at) {
  if (keys.size() == 0) return malformed(at + ": no keys");
  if (keys.size() > limits::keys_per_trust_root_max) return malformed(at + ": too many keys");
  if (threshold < 1 || threshold > keys.size()) {
    return malformed(at + ": threshold " + std::to_string(threshold) + " must be 1.." +
                     std::to_string(keys.size()));
  }
  std::set<std::vector<std::uint8_t>> ids;
  std::set<std::string> names;
  for (unsigned i = 0; i < keys.size(); ++i) {
    const auto k = keys[i];
    CG_RETURN_IF_ERROR(validate_key(k, verifier, at + "[" + std::to_string(i) + "]"));
    auto id = data_bytes(k.getKeyId());
    if (!ids.emplace(id.begin(), id.end()).second) {
      return malformed(at + "[" + std::to_string(i) + "]: duplicate key id");
    }
    if (!names.emplace(wire::view(k.getName())).second) {
      return malformed(at + "[" + std::to_string(i) + "]: duplicate key holder '" +
                       std::string(wire::view(k.getName())) + "'");
    }
  }
  return {};
}

Status validate_signatures(capnp::List<schema::KeySignature>::Reader sigs) {
  if (sigs.size() > limits::signatures_per_bundle_max) return malformed("too many signatures");
  for (unsigned i = 0; i < sigs.size(); ++i) {
    if (sigs[i].getKeyId().size() == 0 || sigs[i].getKeyId().size() > key_id_bytes_max ||
        sigs[i].getSignature().size() == 0 || sigs[i].getSignature().size() > signature_bytes_max) {
      return malformed("signatures[" + std::to_string(i) + "]: bad key id or signature size");
    }
  }
  return {};
}

Status validate_trust_root(schema::TrustRoot::Reader root, const Verifier& verifier) {
  const auto body = root.getBody();
  if (body.getVersion() == 0) return malformed("trust root: version must be >= 1");
  if (body.getExpires() <= 0) return malformed("trust root: expires missing");
  std::set<std::string> parties;
  for (unsigned i = 0; i < body.getParties().size(); ++i) {
    const auto p = body.getParties()[i];
    const std::string at = "trust root: parties[" + std::to_string(i) + "]";
    if (!wire::is_clean_name(wire::view(p.getId()))) return malformed(at + ": bad id");
    if (!parties.emplace(wire::view(p.getId())).second) return malformed(at + ": duplicate party");
    CG_RETURN_IF_ERROR(
        validate_key_set(p.getReviewers(), p.getReviewerThreshold(), verifier, at + ".reviewers"));
  }
  std::set<std::string> nodes;
  for (unsigned i = 0; i < body.getNodes().size(); ++i) {
    const auto n = body.getNodes()[i];
    const std::string at = "trust root: nodes[" + std::to_string(i) + "]";
    if (!wire::is_clean_name(wire::view(n.getId()))) return malformed(at + ": bad id");
    if (!nodes.emplace(wire::view(n.getId())).second) return malformed(at + ": duplicate node");
    if (!wire::is_clean_name(wire::view(n.getParty()))) return malformed(at + ": bad party");
    if (n.getRole() == schema::Role::UNSPECIFIED) return malformed(at + ": role missing");
    if (!n.hasSigningKey()) return malformed(at + ": signing key missing");
    CG_RETURN_IF_ERROR(validate_key(n.getSigningKey(), verifier, at + ".signingKey"));
    if (n.hasAgreementKey()) {
      CG_RETURN_IF_ERROR(validate_key(n.getAgreementKey(), verifier, at + ".agreementKey"));
    }
  }
  CG_RETURN_IF_ERROR(validate_key_set(body.getRootKeys(), body.getRootThreshold(), verifier,
                                      "trust root: rootKeys"));
  return validate_signatures(root.getSignatures());
}

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
  return validate_signatures(bundle.getSignatures());
}

std::string_view policy_text(schema::RulesBundleBody::Reader body) {
  return {reinterpret_cast<const char*>(body.getPolicy().begin()), body.getPolicy().size()};
}

}  // namespace

Status SuiteVerifier::verify(schema::PublicKey::Reader key, Bytes message, Bytes signature) const {
  auto s = crypto::suite(static_cast<crypto::SuiteId>(key.getSuite()));
  if (!s.ok()) return unauthenticated("key of an unusable suite: " + s.status().reason());
  return (*s)->verify(data_bytes(key.getKey()), message, signature);
}

std::vector<std::uint8_t> SuiteVerifier::key_id(schema::PublicKey::Reader key) const {
  return crypto::key_id(static_cast<crypto::SuiteId>(key.getSuite()), data_bytes(key.getKey()));
}

void fill_public_key(schema::PublicKey::Builder out, crypto::SuiteId suite, Bytes key,
                     std::string_view name) {
  out.setSuite(static_cast<schema::Suite>(suite));
  const auto id = crypto::key_id(suite, key);
  out.setKeyId(capnp::Data::Reader(id.data(), id.size()));
  out.setKey(capnp::Data::Reader(key.data(), key.size()));
  out.setName(capnp::Text::Reader(name.data(), name.size()));
}

std::vector<std::uint8_t> signed_message(std::string_view context, Bytes canonical_body) {
  std::vector<std::uint8_t> m;
  m.reserve(context.size() + 1 + canonical_body.size());
  m.insert(m.end(), context.begin(), context.end());
  m.push_back(0);
  m.insert(m.end(), canonical_body.begin(), canonical_body.end());
  return m;
}

std::string_view to_string(SignatureVerdict v) {
  switch (v) {
    case SignatureVerdict::counted:
      return "counted";
    case SignatureVerdict::unknown_key:
      return "unknown key";
    case SignatureVerdict::bad_signature:
      return "bad signature";
    case SignatureVerdict::duplicate:
      return "duplicate (key already counted)";
  }
  return "?";
}

std::string ThresholdReport::describe() const {
  std::string out;
  for (const auto& c : checks) {
    out += "  " + to_hex(c.key_id).substr(0, 16) + " ";
    out += c.key_name.empty() ? std::string("(not a listed key)") : c.key_name;
    out += ": " + std::string(to_string(c.verdict));
    if (!c.detail.empty()) out += " (" + c.detail + ")";
    out += "\n";
  }
  out += "  " + std::to_string(counted) + " of " + std::to_string(threshold) +
         " required signatures: " + (met() ? "threshold met" : "threshold NOT met") + "\n";
  return out;
}

ThresholdReport count_signatures(capnp::List<schema::PublicKey>::Reader keys, std::size_t threshold,
                                 Bytes message,
                                 capnp::List<schema::KeySignature>::Reader signatures,
                                 const Verifier& verifier) {
  ThresholdReport report;
  report.threshold = threshold;
  std::vector<bool> counted(keys.size(), false);
  for (const auto sig : signatures) {
    SignatureCheck check;
    const auto id = data_bytes(sig.getKeyId());
    check.key_id.assign(id.begin(), id.end());
    std::optional<unsigned> which;
    for (unsigned i = 0; i < keys.size(); ++i) {
      if (same(data_bytes(keys[i].getKeyId()), id)) {
        which = i;
        break;
      }
    }
    if (!which) {
      check.verdict = SignatureVerdict::unknown_key;
    } else {
      check.key_name = std::string(wire::view(keys[*which].getName()));
      if (counted[*which]) {
        check.verdict = SignatureVerdict::duplicate;
      } else if (auto s = verifier.verify(keys[*which], message, data_bytes(sig.getSignature()));
                 !s.ok()) {
        check.verdict = SignatureVerdict::bad_signature;
        check.detail = s.reason();
      } else {
        check.verdict = SignatureVerdict::counted;
        counted[*which] = true;
        ++report.counted;
      }
    }
    report.checks.push_back(std::move(check));
  }
  return report;
}

// --- Trust root --------------------------------------------------------------------------

Result<TrustRoot> TrustRoot::parse(Bytes bytes, const Verifier& verifier) {
  CG_ASSIGN_OR_RETURN(auto message,
                      wire::decode_message<schema::TrustRoot>(
                          bytes, wire::trust_root_limits, [&](schema::TrustRoot::Reader r) {
                            return validate_trust_root(r, verifier);
                          }));
  return TrustRoot(std::make_shared<const wire::Message<schema::TrustRoot>>(std::move(message)));
}

ThresholdReport TrustRoot::check_root_signatures(capnp::List<schema::KeySignature>::Reader sigs,
                                                 Bytes body_message,
                                                 const Verifier& verifier) const {
  return count_signatures(body().getRootKeys(), body().getRootThreshold(), body_message, sigs,
                          verifier);
}

Result<TrustRoot> TrustRoot::bootstrap(Bytes bytes, const Verifier& verifier, std::int64_t now_ns) {
  CG_ASSIGN_OR_RETURN(auto root, parse(bytes, verifier));
  const auto body = wire::canonical(root.body());
  const auto msg = signed_message(trust_root_context, body.canonical_bytes());
  const auto report =
      root.check_root_signatures(root.message_->root().getSignatures(), msg, verifier);
  if (!report.met()) {
    return unauthenticated("trust root v" + std::to_string(root.version()) +
                           ": not signed by a threshold of its root keys:\n" + report.describe());
  }
  if (root.expires() <= now_ns) {
    return rejected("trust root v" + std::to_string(root.version()) + " expired at " +
                    when(root.expires()));
  }
  return root;
}

Result<TrustRoot> TrustRoot::rotate(Bytes next_bytes, const Verifier& verifier,
                                    std::int64_t now_ns) const {
  CG_ASSIGN_OR_RETURN(auto next, parse(next_bytes, verifier));
  if (next.version() <= version()) {
    return rejected("trust root v" + std::to_string(next.version()) +
                    " is not above the current v" + std::to_string(version()));
  }
  const auto body = wire::canonical(next.body());
  const auto msg = signed_message(trust_root_context, body.canonical_bytes());
  const auto sigs = next.message_->root().getSignatures();
  const auto by_old = check_root_signatures(sigs, msg, verifier);
  if (!by_old.met()) {
    return unauthenticated("trust root v" + std::to_string(next.version()) +
                           ": not signed by a threshold of the current root keys (v" +
                           std::to_string(version()) + "):\n" + by_old.describe());
  }
  const auto by_new = next.check_root_signatures(sigs, msg, verifier);
  if (!by_new.met()) {
    return unauthenticated("trust root v" + std::to_string(next.version()) +
                           ": not signed by a threshold of its own root keys:\n" +
                           by_new.describe());
  }
  if (next.expires() <= now_ns) {
    return rejected("trust root v" + std::to_string(next.version()) + " expired at " +
                    when(next.expires()));
  }
  return next;
}

std::optional<schema::Party::Reader> TrustRoot::party(std::string_view id) const {
  for (const auto p : body().getParties()) {
    if (wire::view(p.getId()) == id) return p;
  }
  return std::nullopt;
}

std::optional<schema::Node::Reader> TrustRoot::node(std::string_view id) const {
  for (const auto n : body().getNodes()) {
    if (wire::view(n.getId()) == id) return n;
  }
  return std::nullopt;
}

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

namespace {
template <typename T>
Result<wire::Message<T>> with_signature(typename T::Reader signed_thing, Bytes message,
                                        Bytes key_id, const SignFn& sign) {
  const auto sigs = signed_thing.getSignatures();
  for (const auto s : sigs) {
    if (same(data_bytes(s.getKeyId()), key_id)) {
      return rejected("key " + to_hex(key_id).substr(0, 16) + " has already signed");
    }
  }
  if (sigs.size() >= limits::signatures_per_bundle_max) return rejected("too many signatures");
  CG_ASSIGN_OR_RETURN(auto signature, sign(message));
  capnp::MallocMessageBuilder mb;
  auto b = mb.initRoot<T>();
  b.setBody(signed_thing.getBody());
  auto out = b.initSignatures(sigs.size() + 1);
  for (unsigned i = 0; i < sigs.size(); ++i) out.setWithCaveats(i, sigs[i]);
  out[sigs.size()].setKeyId(capnp::Data::Reader(key_id.data(), key_id.size()));
  out[sigs.size()].setSignature(capnp::Data::Reader(signature.data(), signature.size()));
  return wire::canonical(b.asReader());
}
}  // namespace

Result<wire::Message<schema::RulesBundle>> add_signature(schema::RulesBundle::Reader bundle,
                                                         Bytes key_id, const SignFn& sign) {
  const auto msg = signed_message(bundle_context, body_bytes(bundle));
  return with_signature<schema::RulesBundle>(bundle, msg, key_id, sign);
}

Result<wire::Message<schema::TrustRoot>> add_root_signature(schema::TrustRoot::Reader root,
                                                            Bytes key_id, const SignFn& sign) {
  const auto body = wire::canonical(root.getBody());
  const auto msg = signed_message(trust_root_context, body.canonical_bytes());
  return with_signature<schema::TrustRoot>(root, msg, key_id, sign);
}

}  // namespace cg::approval
