// The trust root spec `cellgate trust create` reads: a TOML file naming the parties with their
// reviewer public key files and thresholds, the nodes with their keys and roles, and the root
// keys. Strict like every other parser: unknown keys, wrong types, unknown roles and missing
// required keys are errors with file:line:col; the result is validated as a node would.
#include <toml++/toml.h>

#include <set>
#include <sstream>

#include "gateway/approval/approval.h"
#include "gateway/cli/cli.h"

namespace cg::cli {
namespace {

struct SpecError {
  Status status;
};

class Table final {
 public:
  Table(const toml::table& t, std::string name, const std::string& file,
        std::set<std::string> allowed)
      : t_(t), name_(std::move(name)), file_(file), allowed_(std::move(allowed)) {
    for (const auto& [k, v] : t_) {
      if (!allowed_.count(std::string(k.str())))
        fail_at(k.source(), qualified(std::string(k.str())) + ": unknown key");
    }
  }
  [[noreturn]] void fail_at(const toml::source_region& at, const std::string& what) const {
    std::ostringstream out;
    out << file_ << ":" << at.begin.line << ":" << at.begin.column << ": " << what;
    throw SpecError{malformed(out.str())};
  }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    const toml::node* n = t_.get(key);
    fail_at(n ? n->source() : t_.source(), qualified(key) + ": " + what);
  }
  std::string qualified(const std::string& key) const {
    return name_.empty() ? key : name_ + "." + key;
  }
  std::string string(const std::string& key) const {
    const toml::node* n = t_.get(key);
    if (!n) fail(key, "missing");
    auto v = n->value<std::string>();
    if (!n->is_string() || !v || v->empty()) fail(key, "must be a non-empty string");
    return *v;
  }
  std::int64_t integer(const std::string& key, std::int64_t min, std::int64_t max,
                       std::optional<std::int64_t> dflt) const {
    const toml::node* n = t_.get(key);
    if (!n) {
      if (!dflt) fail(key, "missing");
      return *dflt;
    }
    if (!n->is_integer()) fail(key, "must be an integer");
    const auto v = *n->value<std::int64_t>();
    if (v < min || v > max)
      fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return v;
  }
  const toml::array* tables(const std::string& key) const {
    const toml::node* n = t_.get(key);
    if (!n) return nullptr;
    if (!n->is_array_of_tables())
      fail(key, "must be an array of tables ([[" + qualified(key) + "]])");
    return n->as_array();
  }
  bool has(const std::string& key) const { return t_.contains(key); }
  const std::string& file() const { return file_; }

 private:
  const toml::table& t_;
  std::string name_;
  const std::string& file_;
  std::set<std::string> allowed_;
};

}  // namespace

Result<std::vector<std::uint8_t>> trust_root_from_spec(std::string_view text,
                                                       const std::string& source_name,
                                                       const ReadPublicKey& read_key) {
  if (text.size() > limits::trust_root_bytes_max)
    return malformed(source_name + ": spec too large");
  try {
    const toml::table spec = toml::parse(text, source_name);
    const Table top(spec, "", source_name,
                    {"version", "expires", "root_threshold", "root_key", "party", "node"});
    capnp::MallocMessageBuilder mb;
    auto body = mb.initRoot<schema::TrustRoot>().initBody();
    body.setVersion(
        static_cast<std::uint64_t>(top.integer("version", 1, std::int64_t{1} << 62, 1)));
    {
      auto when = wire::parse_rfc3339(top.string("expires"));
      if (!when.ok()) top.fail("expires", when.status().reason());
      body.setExpires(*when);
    }
    auto key_into = [&](const Table& t, const std::string& key_field, const std::string& name,
                        crypto::KeyKind kind, schema::PublicKey::Builder out) {
      const std::string file = t.string(key_field);
      auto pub = read_key(file);
      if (!pub.ok()) t.fail(key_field, pub.status().reason());
      if (pub->kind != kind)
        t.fail(key_field, file + " is not a " + std::string(crypto::kind_name(kind)) + " key");
      approval::fill_public_key(out, pub->suite, pub->public_key, name);
    };
    auto count = [&](const Table& t, const toml::array* a, const std::string& key,
                     std::size_t max) {
      if (a->size() > max) t.fail(key, "more than " + std::to_string(max) + " entries");
      return static_cast<unsigned>(a->size());
    };
    if (const auto* roots = top.tables("root_key")) {
      auto keys = body.initRootKeys(count(top, roots, "root_key", limits::keys_per_trust_root_max));
      for (unsigned i = 0; i < keys.size(); ++i) {
        const Table t(*roots->get(i)->as_table(), "root_key[" + std::to_string(i) + "]",
                      source_name, {"name", "key"});
        key_into(t, "key", t.string("name"), crypto::KeyKind::signing, keys[i]);
      }
    }
    body.setRootThreshold(static_cast<std::uint8_t>(top.integer("root_threshold", 1, 255, 1)));
    if (const auto* parties = top.tables("party")) {
      auto out = body.initParties(count(top, parties, "party", 64));
      for (unsigned i = 0; i < out.size(); ++i) {
        const Table t(*parties->get(i)->as_table(), "party[" + std::to_string(i) + "]", source_name,
                      {"id", "reviewer_threshold", "reviewer"});
        out[i].setId(t.string("id"));
        out[i].setReviewerThreshold(
            static_cast<std::uint8_t>(t.integer("reviewer_threshold", 1, 255, std::nullopt)));
        const auto* revs = t.tables("reviewer");
        if (!revs) t.fail("reviewer", "at least one [[party.reviewer]] is needed");
        auto r = out[i].initReviewers(count(t, revs, "reviewer", limits::keys_per_trust_root_max));
        for (unsigned j = 0; j < r.size(); ++j) {
          const Table rt(*revs->get(j)->as_table(),
                         t.qualified("reviewer[" + std::to_string(j) + "]"), source_name,
                         {"name", "key"});
          key_into(rt, "key", rt.string("name"), crypto::KeyKind::signing, r[j]);
        }
      }
    }
    if (const auto* nodes = top.tables("node")) {
      auto out = body.initNodes(count(top, nodes, "node", limits::keys_per_trust_root_max));
      for (unsigned i = 0; i < out.size(); ++i) {
        const Table t(*nodes->get(i)->as_table(), "node[" + std::to_string(i) + "]", source_name,
                      {"id", "party", "role", "signing_key", "agreement_key"});
        const std::string id = t.string("id");
        out[i].setId(id);
        out[i].setParty(t.string("party"));
        const std::string role = t.string("role");
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
    std::ostringstream out;
    out << source_name << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
        << e.description();
    return malformed(out.str());
  } catch (const SpecError& e) {
    return e.status;
  }
}

}  // namespace cg::cli
