#include "gateway/trust/trust.h"

#include <algorithm>
#include <set>

#include "gateway/common/hex.h"
#include "gateway/common/limits.h"

namespace cg::trust {
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
    // Two-person release by default (the schema's default, 2): a party with fewer reviewers
    // must say how many release, never silently fewer.
    if (p.getReleaseThreshold() < 1 || p.getReleaseThreshold() > p.getReviewers().size()) {
      return malformed(at + ": release threshold " + std::to_string(p.getReleaseThreshold()) +
                       " must be 1.." + std::to_string(p.getReviewers().size()) +
                       " (the party's reviewers)");
    }
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

template <typename T>
Result<wire::Message<T>> sign_into(typename T::Reader signed_thing, Bytes message, Bytes key_id,
                                   const SignFn& sign) {
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

// --- Signing -----------------------------------------------------------------------------

Result<wire::Message<schema::RulesBundle>> with_signature(schema::RulesBundle::Reader signed_thing,
                                                          Bytes message, Bytes key_id,
                                                          const SignFn& sign) {
  return sign_into<schema::RulesBundle>(signed_thing, message, key_id, sign);
}

Result<wire::Message<schema::TrustRoot>> with_signature(schema::TrustRoot::Reader signed_thing,
                                                        Bytes message, Bytes key_id,
                                                        const SignFn& sign) {
  return sign_into<schema::TrustRoot>(signed_thing, message, key_id, sign);
}

Result<wire::Message<schema::TrustRoot>> add_root_signature(schema::TrustRoot::Reader root,
                                                            Bytes key_id, const SignFn& sign) {
  const auto body = wire::canonical(root.getBody());
  const auto msg = signed_message(trust_root_context, body.canonical_bytes());
  return with_signature(root, msg, key_id, sign);
}

}  // namespace cg::trust
