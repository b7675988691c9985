// Keys, trust roots and the reviewer workflow: `cellgate keygen`, `cellgate trust ...`,
// `cellgate rules ...`, `cellgate policy explain`.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/cli/cli.h"
#include "gateway/common/hex.h"
#include "gateway/common/text.h"
#include "gateway/policy/policy.h"

namespace cg::cli {
namespace {

using crypto::Bytes;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int fail(const char* what, const Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.reason().c_str());
  switch (s.code()) {
    case Code::io:
      return exit_io;
    case Code::malformed:
      return exit_usage;
    default:
      return exit_failed;
  }
}

approval::SignFn signer_of(const crypto::SigningKey& key) {
  return [&key](Bytes m) -> Result<std::vector<std::uint8_t>> {
    CG_ASSIGN_OR_RETURN(const crypto::Suite* s, crypto::suite(key.suite()));
    std::vector<std::uint8_t> sig(s->signature_bytes());
    CG_RETURN_IF_ERROR(key.sign(m, sig));
    return sig;
  };
}

Result<std::vector<std::uint8_t>> read_all(const std::string& path, std::size_t max) {
  return crypto::read_file(path, max);
}

// The deployment suite is the suite of the trust root's first root key.
const crypto::Suite& deployment_suite_of(schema::TrustRootBody::Reader body) {
  if (body.getRootKeys().size() > 0) {
    auto s = crypto::suite(static_cast<crypto::SuiteId>(body.getRootKeys()[0].getSuite()));
    if (s.ok()) return **s;
  }
  return crypto::modern_suite();
}

// The trust root in `path`, accepted as a node accepts its pinned root at start (a threshold of
// its own root keys, not expired).
Result<approval::TrustRoot> load_trust_root(const std::string& path) {
  CG_ASSIGN_OR_RETURN(auto bytes, read_all(path, limits::trust_root_bytes_max));
  CG_ASSIGN_OR_RETURN(auto m,
                      wire::decode_message<schema::TrustRoot>(bytes, wire::trust_root_limits));
  const approval::SuiteVerifier verifier(deployment_suite_of(m.root().getBody()));
  return approval::TrustRoot::bootstrap(bytes, verifier, now_ns());
}

approval::SuiteVerifier verifier_of(const approval::TrustRoot& root) {
  return approval::SuiteVerifier(deployment_suite_of(root.body()));
}

bool has_key(capnp::List<schema::PublicKey>::Reader keys, Bytes id) {
  for (const auto k : keys) {
    const auto kid = k.getKeyId();
    if (std::equal(kid.begin(), kid.end(), id.begin(), id.end())) return true;
  }
  return false;
}

// What the trust root says key `id` is, for a refusal.
std::string what_key_is(const approval::TrustRoot& root, Bytes id) {
  for (const auto k : root.body().getRootKeys()) {
    const auto kid = k.getKeyId();
    if (std::equal(kid.begin(), kid.end(), id.begin(), id.end()))
      return "root key '" + std::string(wire::view(k.getName())) + "'";
  }
  for (const auto n : root.body().getNodes()) {
    const auto kid = n.getSigningKey().getKeyId();
    if (std::equal(kid.begin(), kid.end(), id.begin(), id.end()))
      return "signing key of node '" + std::string(wire::view(n.getId())) + "'";
  }
  for (const auto p : root.body().getParties()) {
    if (has_key(p.getReviewers(), id))
      return "a reviewer of party '" + std::string(wire::view(p.getId())) + "'";
  }
  return "not in the trust root";
}

// `rules propose --force` over an approved bundle: the reviewers' signatures go with it.
void warn_if_signed(const std::string& path) {
  auto bytes = read_all(path, limits::rules_bundle_bytes_max);
  if (!bytes.ok()) return;
  auto b = approval::decode_bundle(*bytes);
  if (b.ok() && b->root().getSignatures().size() > 0) {
    std::fprintf(stderr, "rules propose: --force: replacing %s and its %u signature(s)\n",
                 path.c_str(), b->root().getSignatures().size());
  }
}

}  // namespace

Status write_output(const std::string& path, Bytes data, unsigned mode, bool force) {
  const Status s = crypto::write_file(path, data, mode,
                                      force ? crypto::Existing::replace : crypto::Existing::refuse);
  if (s.code() == Code::rejected && !force) {
    return rejected(s.reason() + " (give --force to replace it)");
  }
  if (s.code() == Code::rejected) return rejected(s.reason() + " (not even with --force)");
  return s;
}

Result<std::optional<crypto::Secret>> passphrase(const KeyOptions& k) {
  if (k.passphrase_file.empty()) return std::optional<crypto::Secret>();
  CG_ASSIGN_OR_RETURN(auto p, crypto::read_passphrase_file(k.passphrase_file));
  return std::optional<crypto::Secret>(std::move(p));
}

Result<std::unique_ptr<crypto::SigningKey>> load_signer(const KeyOptions& k) {
  CG_ASSIGN_OR_RETURN(auto pass, passphrase(k));
  return crypto::load_signing_key_file(k.key_file, pass ? &*pass : nullptr, k.unencrypted);
}

// --- keygen --------------------------------------------------------------------------------

int keygen(const KeygenOptions& o) {
  if (o.link) {
    const crypto::Secret key = crypto::Secret::random(32);
    auto s = write_output(o.out, crypto::encode_link_key(key), 0600, o.force);
    if (!s.ok()) return fail("keygen", s);
    std::printf("link key written to %s (mode 0600); copy it to both ends of the link\n",
                o.out.c_str());
    return exit_ok;
  }
  auto suite = crypto::suite_from_name(o.suite);
  if (!suite.ok()) return fail("keygen", suite.status());
  if (o.keys.passphrase_file.empty() && !o.keys.unencrypted) {
    std::fprintf(stderr,
                 "keygen: give --passphrase-file, or --unencrypted to store the private keys in "
                 "clear (a deliberate decision)\n");
    return exit_usage;
  }
  auto pass = passphrase(o.keys);
  if (!pass.ok()) return fail("keygen", pass.status());
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  auto paths =
      crypto::write_node_keys(o.dir, o.node, *suite, *pass ? &**pass : nullptr, o.keys.unencrypted,
                              {}, o.force ? crypto::Existing::replace : crypto::Existing::refuse);
  if (!paths.ok()) {
    const Status& s = paths.status();
    return fail("keygen", s.code() == Code::rejected && !o.force
                              ? rejected(s.reason() + " (give --force to replace the key files)")
                              : s);
  }
  for (const auto& [file, pub] : {std::pair{paths->signing, paths->signing_public},
                                  std::pair{paths->agreement, paths->agreement_public}}) {
    auto p = crypto::read_public_key_file(pub);
    if (!p.ok()) return fail("keygen", p.status());
    std::printf("%s  %s key, suite %s, key id %s (public: %s)\n", file.c_str(),
                std::string(crypto::kind_name(p->kind)).c_str(), o.suite.c_str(),
                to_hex(crypto::key_id(p->suite, p->public_key)).c_str(), pub.c_str());
  }
  return exit_ok;
}

// --- trust roots ---------------------------------------------------------------------------

int trust_create(const std::string& spec_file, const std::string& out, bool force) {
  auto text = read_all(spec_file, limits::trust_root_bytes_max);
  if (!text.ok()) return fail("trust create", text.status());
  const auto base = std::filesystem::path(spec_file).parent_path();
  auto bytes =
      trust_root_from_spec({reinterpret_cast<const char*>(text->data()), text->size()}, spec_file,
                           [&](const std::string& p) {
                             return crypto::read_public_key_file(
                                 std::filesystem::path(p).is_absolute() ? p : (base / p).string());
                           });
  if (!bytes.ok()) return fail("trust create", bytes.status());
  // Validate as a node would (structure, thresholds, key ids) before writing.
  auto m = wire::decode_message<schema::TrustRoot>(*bytes, wire::trust_root_limits);
  if (!m.ok()) return fail("trust create", m.status());
  const approval::SuiteVerifier verifier(deployment_suite_of(m->root().getBody()));
  auto parsed = approval::TrustRoot::parse(*bytes, verifier);
  if (!parsed.ok()) return fail("trust create", parsed.status());
  if (auto s = write_output(out, *bytes, 0644, force); !s.ok()) return fail("trust create", s);
  std::printf(
      "unsigned trust root v%llu written to %s; it needs %u root signatures "
      "(cellgate trust sign)\n",
      static_cast<unsigned long long>(parsed->version()), out.c_str(),
      static_cast<unsigned>(parsed->body().getRootThreshold()));
  return exit_ok;
}

int trust_sign(const std::string& file, const KeyOptions& key_options, const std::string& out,
               bool force) {
  auto key = load_signer(key_options);
  if (!key.ok()) return fail("trust sign", key.status());
  auto bytes = read_all(file, limits::trust_root_bytes_max);
  if (!bytes.ok()) return fail("trust sign", bytes.status());
  auto m = wire::decode_message<schema::TrustRoot>(*bytes, wire::trust_root_limits);
  if (!m.ok()) return fail("trust sign", m.status());
  const auto id = crypto::key_id((*key)->suite(), (*key)->public_key());
  auto signed_root = approval::add_root_signature(m->root(), id, signer_of(**key));
  if (!signed_root.ok()) return fail("trust sign", signed_root.status());
  // In place the file signed is updated (what it held is kept, one signature added); --out
  // names a new file.
  if (auto s = write_output(out.empty() ? file : out, wire::to_flat_bytes(*signed_root), 0644,
                            out.empty() || force);
      !s.ok()) {
    return fail("trust sign", s);
  }
  std::printf("signed by key %s\n", to_hex(id).c_str());
  return exit_ok;
}

int trust_verify(const std::string& file, const std::string& previous) {
  auto bytes = read_all(file, limits::trust_root_bytes_max);
  if (!bytes.ok()) return fail("trust verify", bytes.status());
  auto m = wire::decode_message<schema::TrustRoot>(*bytes, wire::trust_root_limits);
  if (!m.ok()) return fail("trust verify", m.status());
  const approval::SuiteVerifier verifier(deployment_suite_of(m->root().getBody()));
  Result<approval::TrustRoot> r = malformed("unreachable");
  if (previous.empty()) {
    r = approval::TrustRoot::bootstrap(*bytes, verifier, now_ns());
  } else {
    auto prev_bytes = read_all(previous, limits::trust_root_bytes_max);
    if (!prev_bytes.ok()) return fail("trust verify", prev_bytes.status());
    auto prev = approval::TrustRoot::parse(*prev_bytes, verifier);
    if (!prev.ok()) return fail("trust verify", prev.status());
    r = prev->rotate(*bytes, verifier, now_ns());
  }
  if (!r.ok()) {
    std::printf("trust root NOT accepted: %s\n", r.status().reason().c_str());
    return exit_failed;
  }
  std::printf("trust root v%llu accepted: %u parties, %u nodes, expires %s\n",
              static_cast<unsigned long long>(r->version()), r->body().getParties().size(),
              r->body().getNodes().size(), wire::format_rfc3339(r->expires()).c_str());
  return exit_ok;
}

// --- rules bundles -------------------------------------------------------------------------

int rules_propose(const RulesProposeOptions& o) {
  auto text = read_all(o.policy, limits::policy_bytes_max);
  if (!text.ok()) return fail("rules propose", text.status());
  const std::string_view policy_text(reinterpret_cast<const char*>(text->data()), text->size());
  auto compiled = policy::Policy::parse(policy_text, o.policy);
  if (!compiled.ok()) return fail("rules propose", compiled.status());
  auto suite = crypto::suite_from_name(o.suite);
  if (!suite.ok()) return fail("rules propose", suite.status());
  const approval::SuiteVerifier verifier(**crypto::suite(*suite));
  std::optional<wire::Message<schema::RulesBundle>> prev;
  if (!o.previous.empty()) {
    auto b = read_all(o.previous, limits::rules_bundle_bytes_max);
    if (!b.ok()) return fail("rules propose", b.status());
    auto d = approval::decode_bundle(*b);
    if (!d.ok()) return fail("rules propose", d.status());
    prev.emplace(std::move(*d));
  }
  const std::string party = o.party.empty() ? (*compiled)->party() : o.party;
  const std::int64_t created = now_ns();
  const std::int64_t expires =
      created + static_cast<std::int64_t>(o.expires_days) * 86'400 * 1'000'000'000LL;
  schema::RulesBundle::Reader prev_reader;
  if (prev) prev_reader = prev->root();
  auto bundle = approval::propose(party, policy_text, prev ? &prev_reader : nullptr, created,
                                  expires, verifier);
  if (!bundle.ok()) return fail("rules propose", bundle.status());
  if (o.force) warn_if_signed(o.out);
  if (auto s = write_output(o.out, wire::to_flat_bytes(*bundle), 0644, o.force); !s.ok())
    return fail("rules propose", s);
  std::printf(
      "unsigned rules bundle v%llu for party %s written to %s (expires %s); reviewers "
      "sign it with `cellgate rules approve`\n",
      static_cast<unsigned long long>(bundle->root().getBody().getVersion()), party.c_str(),
      o.out.c_str(), wire::format_rfc3339(expires).c_str());
  return exit_ok;
}

int rules_approve(const std::string& file, const KeyOptions& key_options,
                  const std::string& trust_root_file, const std::string& out, bool force) {
  auto key = load_signer(key_options);
  if (!key.ok()) return fail("rules approve", key.status());
  auto root = load_trust_root(trust_root_file);
  if (!root.ok()) return fail("rules approve: trust root", root.status());
  auto bytes = read_all(file, limits::rules_bundle_bytes_max);
  if (!bytes.ok()) return fail("rules approve", bytes.status());
  auto b = approval::decode_bundle(*bytes);
  if (!b.ok()) return fail("rules approve", b.status());
  const auto id = crypto::key_id((*key)->suite(), (*key)->public_key());
  // A node counts only signatures by reviewers of the bundle's party (count_signatures): any
  // other key would add a signature that never counts, so it signs nothing.
  const std::string party(wire::view(b->root().getBody().getParty()));
  const auto p = root->party(party);
  if (!p) {
    return fail("rules approve", rejected("party '" + party + "' is not in trust root v" +
                                          std::to_string(root->version()) + ": not signed"));
  }
  if (!has_key(p->getReviewers(), id)) {
    return fail("rules approve", rejected("key " + to_hex(id) + " (" + what_key_is(*root, id) +
                                          ") is not a reviewer of party '" + party +
                                          "' in trust root v" + std::to_string(root->version()) +
                                          ": its signature would never count; not signed"));
  }
  auto signed_bundle = approval::add_signature(b->root(), id, signer_of(**key));
  if (!signed_bundle.ok()) return fail("rules approve", signed_bundle.status());
  const auto verifier = verifier_of(*root);
  const auto msg = approval::signed_message(approval::bundle_context,
                                            approval::body_bytes(signed_bundle->root()));
  const auto report = approval::count_signatures(p->getReviewers(), p->getReviewerThreshold(), msg,
                                                 signed_bundle->root().getSignatures(), verifier);
  if (report.checks.empty() ||
      report.checks.back().verdict != approval::SignatureVerdict::counted) {
    return fail("rules approve", rejected("the new signature would not count:\n" +
                                          report.describe() + "not signed"));
  }
  if (auto s = write_output(out.empty() ? file : out, wire::to_flat_bytes(*signed_bundle), 0644,
                            out.empty() || force);
      !s.ok()) {
    return fail("rules approve", s);
  }
  std::printf(
      "rules bundle v%llu signed by reviewer %s, key %s (%zu of %zu required "
      "signatures now)\n",
      static_cast<unsigned long long>(b->root().getBody().getVersion()),
      report.checks.back().key_name.c_str(), to_hex(id).c_str(), report.counted, report.threshold);
  return exit_ok;
}

int rules_verify(const std::string& file, const std::string& trust_root_file) {
  auto root_bytes = read_all(trust_root_file, limits::trust_root_bytes_max);
  if (!root_bytes.ok()) return fail("rules verify", root_bytes.status());
  auto rm = wire::decode_message<schema::TrustRoot>(*root_bytes, wire::trust_root_limits);
  if (!rm.ok()) return fail("rules verify", rm.status());
  const approval::SuiteVerifier verifier(deployment_suite_of(rm->root().getBody()));
  const std::int64_t now = now_ns();  // the node's clock: its wall clock, as here
  auto root = approval::TrustRoot::bootstrap(*root_bytes, verifier, now);
  if (!root.ok()) return fail("rules verify: trust root", root.status());
  auto bytes = read_all(file, limits::rules_bundle_bytes_max);
  if (!bytes.ok()) return fail("rules verify", bytes.status());
  auto b = approval::decode_bundle(*bytes);
  if (!b.ok()) return fail("rules verify", b.status());
  const auto body = b->root().getBody();
  const std::string party(wire::view(body.getParty()));
  std::printf("rules bundle v%llu of party %s, created %s, expires %s, hash %s\n",
              static_cast<unsigned long long>(body.getVersion()), party.c_str(),
              wire::format_rfc3339(body.getCreated()).c_str(),
              wire::format_rfc3339(body.getExpires()).c_str(),
              to_hex(verifier.hash(approval::body_bytes(b->root()))).c_str());
  bool ok = true;
  const auto p = root->party(party);
  if (!p) {
    std::printf("party %s is not in the trust root: NOT approved\n", party.c_str());
    return exit_failed;
  }
  const auto msg =
      approval::signed_message(approval::bundle_context, approval::body_bytes(b->root()));
  const auto report = approval::count_signatures(p->getReviewers(), p->getReviewerThreshold(), msg,
                                                 b->root().getSignatures(), verifier);
  std::printf("%s", report.describe().c_str());
  ok = report.met();
  // The same time checks, in the same order, as a node's (approval::check_bundle_times).
  if (auto t = approval::check_bundle_times(*root, body, now); !t.ok()) {
    std::printf("NOT valid now (%s): %s\n", wire::format_rfc3339(now).c_str(), t.reason().c_str());
    ok = false;
  }
  const std::string_view text(reinterpret_cast<const char*>(body.getPolicy().begin()),
                              body.getPolicy().size());
  auto compiled = policy::Policy::parse(text, "bundle policy");
  if (!compiled.ok()) {
    std::printf("policy does NOT load: %s\n", compiled.status().reason().c_str());
    ok = false;
  } else {
    std::printf("policy %s loads: %zu rules, %zu patterns, %zu destinations\n",
                (*compiled)->id().c_str(), (*compiled)->rules().size(),
                (*compiled)->patterns().size(), (*compiled)->destinations().size());
  }
  std::printf("%s\n", ok ? "APPROVED: a node would load this bundle (if its version is new to it)"
                         : "NOT approved");
  return ok ? exit_ok : exit_failed;
}

}  // namespace cg::cli
