// The trust root spec `cellgate trust create` reads: a TOML file naming the parties with their
// reviewer public key files and thresholds, the nodes with their keys and roles, and the root
// keys. Strict like every other parser: unknown keys, wrong types, unknown roles and missing
// required keys are errors with file:line:col; the result is validated as a node would.

#include "gateway/approval/approval.h"
#include "gateway/cli/cli.h"
#include "gateway/tomlread/tomlread.h"

namespace cg::cli {
namespace {

using tomlread::Section;

// A table of the spec: keys outside `allowed` are refused before anything is read.
Section table_of(const toml::table& t, std::string name, const std::string& file,
                 std::initializer_list<std::string_view> allowed) {
  Section s(t, std::move(name), file);
  s.allow_only(allowed);
  return s;
}

std::string required_string(Section& t, const std::string& key) {
  auto v = t.string(key, true);
  if (v->empty()) t.fail(key, "must be a non-empty string");
  return *v;
}

std::int64_t required_integer(Section& t, const std::string& key, std::int64_t min,
                              std::int64_t max) {
  auto v = t.integer(key, min, max);
  if (!v) t.fail(key, "missing");
  return *v;
}

}  // namespace

Result<std::vector<std::uint8_t>> trust_root_from_spec(std::string_view text,
                                                       const std::string& source_name,
                                                       const ReadPublicKey& read_key) {
  if (text.size() > limits::trust_root_bytes_max)
    return malformed(source_name + ": spec too large");
  try {
    const toml::table spec = toml::parse(text, source_name);
    Section top = table_of(spec, "", source_name,
                           {"version", "expires", "root_threshold", "root_key", "party", "node"});
    capnp::MallocMessageBuilder mb;
    auto body = mb.initRoot<schema::TrustRoot>().initBody();
    body.setVersion(
        static_cast<std::uint64_t>(top.integer("version", 1, std::int64_t{1} << 62).value_or(1)));
    {
      auto when = wire::parse_rfc3339(required_string(top, "expires"));
      if (!when.ok()) top.fail("expires", when.status().reason());
      body.setExpires(*when);
    }
    auto key_into = [&](Section& t, const std::string& key_field, const std::string& name,
                        crypto::KeyKind kind, schema::PublicKey::Builder out) {
      const std::string file = required_string(t, key_field);
      auto pub = read_key(file);
      if (!pub.ok()) t.fail(key_field, pub.status().reason());
      if (pub->kind != kind)
        t.fail(key_field, file + " is not a " + std::string(crypto::kind_name(kind)) + " key");
      approval::fill_public_key(out, pub->suite, pub->public_key, name);
    };
    auto count = [&](const Section& t, const toml::array* a, const std::string& key,
                     std::size_t max) {
      if (a->size() > max) t.fail(key, "more than " + std::to_string(max) + " entries");
      return static_cast<unsigned>(a->size());
    };
    if (const auto* roots = top.array_of_tables("root_key")) {
      auto keys = body.initRootKeys(count(top, roots, "root_key", limits::keys_per_trust_root_max));
      for (unsigned i = 0; i < keys.size(); ++i) {
        Section t = table_of(*roots->get(i)->as_table(), "root_key[" + std::to_string(i) + "]",
                             source_name, {"name", "key"});
        key_into(t, "key", required_string(t, "name"), crypto::KeyKind::signing, keys[i]);
      }
    }
    body.setRootThreshold(
        static_cast<std::uint8_t>(top.integer("root_threshold", 1, 255).value_or(1)));
    if (const auto* parties = top.array_of_tables("party")) {
      auto out = body.initParties(count(top, parties, "party", 64));
      for (unsigned i = 0; i < out.size(); ++i) {
        Section t =
            table_of(*parties->get(i)->as_table(), "party[" + std::to_string(i) + "]", source_name,
                     {"id", "reviewer_threshold", "release_threshold", "reviewer"});
        out[i].setId(required_string(t, "id"));
        out[i].setReviewerThreshold(
            static_cast<std::uint8_t>(required_integer(t, "reviewer_threshold", 1, 255)));
        // Reviewers who must approve the release of a held item: 2 when not given.
        const auto release = t.integer("release_threshold", 1, 255);
        out[i].setReleaseThreshold(static_cast<std::uint8_t>(release.value_or(2)));
        const auto* revs = t.array_of_tables("reviewer");
        if (!revs) t.fail("reviewer", "at least one [[party.reviewer]] is needed");
        auto r = out[i].initReviewers(count(t, revs, "reviewer", limits::keys_per_trust_root_max));
        if (out[i].getReleaseThreshold() > r.size()) {
          t.fail(release ? "release_threshold" : "reviewer",
                 "a release needs " + std::to_string(out[i].getReleaseThreshold()) +
                     " reviewers (release_threshold" + (release ? "" : ", 2 when not given") +
                     ") but the party has " + std::to_string(r.size()));
        }
        for (unsigned j = 0; j < r.size(); ++j) {
          Section rt = table_of(*revs->get(j)->as_table(),
                                t.qualified("reviewer[" + std::to_string(j) + "]"), source_name,
                                {"name", "key"});
          key_into(rt, "key", required_string(rt, "name"), crypto::KeyKind::signing, r[j]);
        }
      }
    }
    if (const auto* nodes = top.array_of_tables("node")) {
      auto out = body.initNodes(count(top, nodes, "node", limits::keys_per_trust_root_max));
      for (unsigned i = 0; i < out.size(); ++i) {
        Section t = table_of(*nodes->get(i)->as_table(), "node[" + std::to_string(i) + "]",
                             source_name, {"id", "party", "role", "signing_key", "agreement_key"});
        const std::string id = required_string(t, "id");
        out[i].setId(id);
        out[i].setParty(required_string(t, "party"));
        const std::string role = required_string(t, "role");
        if (role == "gateway")
          out[i].setRole(schema::Role::GATEWAY);
        else if (role == "relay")
          out[i].setRole(schema::Role::RELAY);
        else if (role == "receiver")
          out[i].setRole(schema::Role::RECEIVER);
        else
          t.fail("role", "must be gateway, relay or receiver");
        key_into(t, "signing_key", id, crypto::KeyKind::signing, out[i].initSigningKey());
        if (t.has("agreement_key"))
          key_into(t, "agreement_key", id, crypto::KeyKind::agreement, out[i].initAgreementKey());
      }
    }
    return wire::to_flat_bytes(mb);
  } catch (const toml::parse_error& e) {
    return tomlread::syntax_error(e, source_name);
  } catch (const tomlread::Fail& f) {
    return f.status;
  }
}

}  // namespace cg::cli
