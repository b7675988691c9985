// What a reviewer looks at before signing: `cellgate policy explain`, `cellgate rules diff`,
// `cellgate rules impact`.
#include <capnp/schema.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/cli/cli.h"
#include "gateway/cli/progress.h"
#include "gateway/common/clock.h"
#include "gateway/common/hex.h"
#include "gateway/common/text.h"
#include "gateway/policy/policy.h"

namespace cg::cli {
namespace {

int fail(const char* what, const Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.reason().c_str());
  return s.code() == Code::io ? exit_io : exit_usage;
}

// A policy from a TOML file or from the policy inside a rules bundle file.
Result<std::unique_ptr<const policy::Policy>> load_policy(const std::string& file) {
  CG_ASSIGN_OR_RETURN(auto bytes, crypto::read_file(file, limits::rules_bundle_bytes_max));
  if (auto bundle = approval::decode_bundle(bytes); bundle.ok()) {
    const auto p = bundle->root().getBody().getPolicy();
    return policy::Policy::parse({reinterpret_cast<const char*>(p.begin()), p.size()},
                                 file + " (bundle)");
  }
  return policy::Policy::parse({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, file);
}

template <typename E>
std::string enum_names(std::uint32_t mask) {
  const auto enumerants = capnp::Schema::from<E>().getEnumerants();
  std::uint32_t all = 0;
  for (unsigned i = 1; i < enumerants.size(); ++i) all |= 1u << i;
  if ((mask & all) == all) return "";
  std::string out;
  for (unsigned i = 1; i < enumerants.size(); ++i) {
    if (mask & (1u << i)) {
      if (!out.empty()) out += ",";
      out += std::string(wire::view(enumerants[i].getProto().getName()));
    }
  }
  return out.empty() ? "(none)" : out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// One line that says everything a rule does; two rules with equal lines behave the same.
std::string describe(const policy::Policy& p, const policy::Rule& r) {
  std::string out = std::string(policy::outcome_name(r.action)) + " when";
  const auto& c = r.when;
  std::string conds;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) conds += " " + k + "=" + v;
  };
  std::vector<std::string> dests;
  for (std::size_t i = 0; i < p.destinations().size(); ++i) {
    if (c.destinations & (std::uint64_t{1} << i)) dests.push_back(p.destinations()[i].id);
  }
  if (dests.size() != p.destinations().size()) add("destinations", join(dests));
  add("kinds", enum_names<schema::Kind>(c.kinds));
  add("precedences", enum_names<schema::Precedence>(c.precedences));
  add("tlp", enum_names<schema::Tlp>(c.tlps));
  if (c.level_min > 0 || c.level_max < p.levels().size() - 1) {
    auto name = [&](std::uint8_t l) {
      return l < p.levels().size() ? p.levels()[l] : std::to_string(l);
    };
    add("levels", name(c.level_min) + ".." +
                      name(std::min<std::uint8_t>(
                          c.level_max, static_cast<std::uint8_t>(p.levels().size() - 1))));
  }
  add("topics", join(c.topics));
  add("categories", join(c.categories));
  add("caveats", join(c.caveats));
  add("sources", join(c.sources));
  if (c.area) {
    add("area", std::to_string(c.area->south_e7) + "," + std::to_string(c.area->west_e7) + ".." +
                    std::to_string(c.area->north_e7) + "," + std::to_string(c.area->east_e7));
  }
  out += conds.empty() ? " always" : conds;
  const auto& t = r.transform;
  if (r.action == policy::Outcome::release && !t.empty()) {
    out += "; transforms:";
    if (!t.drop_content_types.empty()) out += " drop_content_types=" + join(t.drop_content_types);
    if (t.drop_above) out += " drop_above=" + p.levels()[*t.drop_above];
    if (!t.drop_labels_with.empty()) out += " drop_labels_with=" + join(t.drop_labels_with);
    if (!t.drop_attributes.empty()) out += " drop_attributes=" + join(t.drop_attributes);
    if (t.strip_source) out += " strip_source";
    if (t.coarsen_m) out += " coarsen_m=" + std::to_string(t.coarsen_m);
  }
  return out;
}

std::string describe_destination(const policy::Policy& p, const policy::Destination& d) {
  return "party=" + d.party + " country=" + d.country + " level_max=" + p.levels()[d.level_max] +
         " categories=" + join(d.categories);
}

std::string describe_pattern(const policy::Pattern& pat) {
  return std::string(pat.literal ? "term " : "regex ") + pat.expression +
         (pat.case_sensitive ? " (case-sensitive)" : "") + " -> " +
         std::string(policy::outcome_name(pat.action));
}

// Entries matched by id; `da`/`db` describe an entry of the old/new policy.
template <typename T, typename DescribeOld, typename DescribeNew>
int diff_section(const char* what, const std::vector<T>& a, const std::vector<T>& b, DescribeOld da,
                 DescribeNew db) {
  std::map<std::string, std::string> old_items, new_items;
  for (const auto& x : a) old_items[x.id] = da(x);
  for (const auto& x : b) new_items[x.id] = db(x);
  int changes = 0;
  for (const auto& [id, text] : old_items) {
    auto it = new_items.find(id);
    if (it == new_items.end()) {
      std::printf("- %s %s: %s\n", what, id.c_str(), text.c_str());
      ++changes;
    } else if (it->second != text) {
      std::printf("~ %s %s:\n    old: %s\n    new: %s\n", what, id.c_str(), text.c_str(),
                  it->second.c_str());
      ++changes;
    }
  }
  for (const auto& [id, text] : new_items) {
    if (!old_items.count(id)) {
      std::printf("+ %s %s: %s\n", what, id.c_str(), text.c_str());
      ++changes;
    }
  }
  return changes;
}

std::string rule_id(const policy::Policy& p, const policy::Decision& d) {
  return d.rule ? p.rules()[*d.rule].id : std::string("(none)");
}

}  // namespace

int policy_explain(const std::string& policy_file, const std::string& item_file,
                   const std::string& destination, bool json) {
  auto p = load_policy(policy_file);
  if (!p.ok()) return fail("policy explain", p.status());
  auto item = load_item(item_file);
  if (!item.ok()) return fail("policy explain", item.status());
  auto eval = policy::Evaluator::create(**p);
  if (!eval.ok()) return fail("policy explain", eval.status());
  // Judged now, as the gateway would judge it now: an expired item is explained as expired.
  const std::int64_t now_ns = SystemClock().now_ns();
  bool any = false;
  for (std::uint32_t i = 0; i < (*p)->destinations().size(); ++i) {
    if (!destination.empty() && (*p)->destinations()[i].id != destination) continue;
    any = true;
    policy::Decision d;
    eval->decide(item->root(), i, now_ns, d);
    if (json) {
      std::printf("%s\n", policy::explain_json(**p, item->root(), d).c_str());
    } else {
      std::printf("%s\n", policy::explain_text(**p, item->root(), d).c_str());
    }
  }
  if (!any) {
    std::fprintf(stderr, "policy explain: no destination '%s' in the policy\n",
                 destination.c_str());
    return exit_usage;
  }
  return exit_ok;
}

int rules_diff(const std::string& old_file, const std::string& new_file) {
  auto a = load_policy(old_file);
  if (!a.ok()) return fail("rules diff", a.status());
  auto b = load_policy(new_file);
  if (!b.ok()) return fail("rules diff", b.status());
  const auto& pa = **a;
  const auto& pb = **b;
  int changes = 0;
  if (pa.levels() != pb.levels()) {
    std::printf("~ levels: [%s] -> [%s]\n", join(pa.levels()).c_str(), join(pb.levels()).c_str());
    ++changes;
  }
  if (pa.label_policy() != pb.label_policy()) {
    std::printf("~ labels: %s -> %s\n", pa.label_policy().c_str(), pb.label_policy().c_str());
    ++changes;
  }
  // Each side is described with its own policy's level and destination names.
  changes += diff_section(
      "destination", pa.destinations(), pb.destinations(),
      [&](const policy::Destination& d) { return describe_destination(pa, d); },
      [&](const policy::Destination& d) { return describe_destination(pb, d); });
  changes +=
      diff_section("pattern", pa.patterns(), pb.patterns(), describe_pattern, describe_pattern);
  changes += diff_section(
      "rule", pa.rules(), pb.rules(), [&](const policy::Rule& r) { return describe(pa, r); },
      [&](const policy::Rule& r) { return describe(pb, r); });
  // Order matters (the first matching rule decides): report moved rules.
  std::set<std::string> ida, idb;
  for (const auto& r : pa.rules()) ida.insert(r.id);
  for (const auto& r : pb.rules()) idb.insert(r.id);
  std::vector<std::string> oa, ob;
  for (const auto& r : pa.rules()) {
    if (idb.count(r.id)) oa.push_back(r.id);
  }
  for (const auto& r : pb.rules()) {
    if (ida.count(r.id)) ob.push_back(r.id);
  }
  if (oa != ob) {
    std::printf("~ rule order changed: [%s] -> [%s]\n", join(oa).c_str(), join(ob).c_str());
    ++changes;
  }
  std::printf("%d change%s between %s (%s) and %s (%s)\n", changes, changes == 1 ? "" : "s",
              pa.id().c_str(), old_file.c_str(), pb.id().c_str(), new_file.c_str());
  return changes == 0 ? exit_ok : exit_failed;
}

int rules_impact(const std::string& old_file, const std::string& new_file,
                 const std::string& items_dir, bool json) {
  auto a = load_policy(old_file);
  if (!a.ok()) return fail("rules impact", a.status());
  auto b = load_policy(new_file);
  if (!b.ok()) return fail("rules impact", b.status());
  auto ea = policy::Evaluator::create(**a);
  auto eb = policy::Evaluator::create(**b);
  const std::int64_t now_ns = SystemClock().now_ns();  // both policies judge at one time
  if (!ea.ok() || !eb.ok()) return fail("rules impact", ea.ok() ? eb.status() : ea.status());
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(items_dir, ec)) {
    if (e.is_regular_file()) files.push_back(e.path().string());
  }
  if (ec) return fail("rules impact", io_error(items_dir + ": " + ec.message()));
  std::sort(files.begin(), files.end());
  std::set<std::string> destinations;
  for (const auto& d : (*a)->destinations()) destinations.insert(d.id);
  for (const auto& d : (*b)->destinations()) destinations.insert(d.id);
  std::size_t items = 0, unreadable = 0, changed = 0, decisions = 0;
  policy::Decision da, db;
  Progress progress("rules impact: items", files.size(), json);
  for (const auto& f : files) {
    progress.update(items + unreadable, std::to_string(changed) + " changed");
    auto item = load_item(f);
    if (!item.ok()) {
      progress.finish();
      std::fprintf(stderr, "%s: %s (skipped)\n", f.c_str(), item.status().reason().c_str());
      ++unreadable;
      continue;
    }
    ++items;
    for (const auto& dest : destinations) {
      const auto ia = (*a)->destination_index(dest);
      const auto ib = (*b)->destination_index(dest);
      ++decisions;
      std::string old_text = "(destination not in the old policy: blocked)";
      std::string new_text = "(destination not in the new policy: blocked)";
      std::string old_short = "block", new_short = "block";
      if (ia) {
        ea->decide(item->root(), *ia, now_ns, da);
        old_text = policy::explain_text(**a, item->root(), da);
        old_short = std::string(policy::outcome_name(da.outcome)) + " by " + rule_id(**a, da) +
                    " (" + std::string(policy::reason_name(da.reason)) + ")";
      }
      if (ib) {
        eb->decide(item->root(), *ib, now_ns, db);
        new_text = policy::explain_text(**b, item->root(), db);
        new_short = std::string(policy::outcome_name(db.outcome)) + " by " + rule_id(**b, db) +
                    " (" + std::string(policy::reason_name(db.reason)) + ")";
      }
      const bool same = ia && ib && da.outcome == db.outcome && da.reason == db.reason &&
                        da.portions == db.portions && da.attributes == db.attributes &&
                        da.transforms == db.transforms && rule_id(**a, da) == rule_id(**b, db);
      if (same || (!ia && !ib)) continue;
      ++changed;
      progress.finish();
      if (json) {
        // One object per changed decision; "old"/"new" are `policy explain --json` objects,
        // null when the destination is not in that policy (blocked).
        std::printf(
            "{\"item\":\"%s\",\"destination\":\"%s\",\"file\":\"%s\",\"old\":%s,\"new\":%s}\n",
            to_hex(std::span<const std::uint8_t>(item->root().getId().begin(),
                                                 item->root().getId().size()))
                .c_str(),
            json_escape(dest).c_str(), json_escape(f).c_str(),
            ia ? policy::explain_json(**a, item->root(), da).c_str() : "null",
            ib ? policy::explain_json(**b, item->root(), db).c_str() : "null");
        continue;
      }
      std::printf(
          "== %s -> %s (%s)\n   old: %s\n   new: %s\n-- old explanation:\n%s\n-- new "
          "explanation:\n%s\n",
          to_hex(std::span<const std::uint8_t>(item->root().getId().begin(),
                                               item->root().getId().size()))
              .c_str(),
          dest.c_str(), f.c_str(), old_short.c_str(), new_short.c_str(), old_text.c_str(),
          new_text.c_str());
    }
  }
  progress.finish();
  if (json) {
    std::printf(
        "{\"items\":%zu,\"destinations\":%zu,\"decisions\":%zu,\"changed\":%zu,"
        "\"unreadable\":%zu}\n",
        items, destinations.size(), decisions, changed, unreadable);
  } else {
    std::printf("%zu items x %zu destinations: %zu decisions, %zu changed; %zu files unreadable\n",
                items, destinations.size(), decisions, changed, unreadable);
  }
  return changed == 0 ? exit_ok : exit_failed;
}

}  // namespace cg::cli
