// Explanations of decisions, for reviewers (text) and for tools (JSON).
#include <cstdio>
#include <string>

#include "gateway/common/hex.h"
#include "gateway/policy/policy.h"
#include "gateway/wire/wire.h"

namespace cg::policy {

using wire::view;

namespace {

void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

// Why a verdict, with the destination's side of the comparison.
std::string verdict_reason(const Policy& policy, const Destination& dest, schema::Label::Reader l,
                           Verdict v) {
  switch (v) {
    case Verdict::crosses:
      return "crosses";
    case Verdict::noforn:
      return "removed: NOFORN never crosses";
    case Verdict::tlp_red:
      return "removed: TLP:RED never crosses";
    case Verdict::level: {
      const auto& levels = policy.levels();
      const unsigned c = l.getClassification();
      return "removed: level " + (c < levels.size() ? levels[c] : std::to_string(c)) +
             " is above " + dest.id + "'s highest, " + levels[dest.level_max];
    }
    case Verdict::restrictive: {
      std::string missing;
      for (auto t : l.getRestrictive()) {
        bool held = false;
        for (const auto& h : dest.categories) held = held || h == view(t);
        if (!held) missing += (missing.empty() ? "" : ", ") + std::string(view(t));
      }
      return "removed: " + dest.id + " does not hold " + missing;
    }
    case Verdict::rel_to:
      return "removed: REL TO does not name " + dest.country;
    case Verdict::orcon:
      return "crosses only after review (ORCON)";
    case Verdict::transform:
      return "removed by the rule's transform";
    case Verdict::malformed:
      return "malformed label (not dominated by the banner, or not of policy " +
             policy.label_policy() + ")";
    case Verdict::expired:
      return "removed: the item expired";
  }
  return "?";
}

std::vector<std::string_view> transform_names(const Policy& policy, const Decision& d,
                                              std::string* coarsen) {
  std::vector<std::string_view> names;
  if (d.transforms & kDropPortions) names.push_back("drop_portions");
  if (d.transforms & kDropAttributes) names.push_back("drop_attributes");
  if (d.transforms & kStripSource) names.push_back("strip_source");
  if (d.transforms & kCoarsenArea) {
    names.push_back("coarsen_area");
    *coarsen = std::to_string(policy.rules()[*d.rule].transform.coarsen_m);
  }
  return names;
}

std::string hit_place(schema::Item::Reader item, const Hit& h) {
  if (h.in_attribute) {
    return "attribute \"" + std::string(view(item.getAttributes()[h.index].getName())) + "\"";
  }
  return "portion " + std::to_string(h.index);
}

}  // namespace

std::string explain_text(const Policy& policy, schema::Item::Reader item, const Decision& d) {
  const Destination& dest = policy.destinations()[d.destination];
  auto id = item.getId();
  std::string out = "item " + to_hex({id.begin(), id.size()}) + " to " + dest.id + ": " +
                    std::string(outcome_name(d.outcome)) + "\n";
  out += "  why: ";
  const Rule* rule = d.rule ? &policy.rules()[*d.rule] : nullptr;
  const std::string rule_name =
      rule ? "rule \"" + rule->id + "\" (line " + std::to_string(rule->line) + ")" : "";
  switch (d.reason) {
    case Reason::rule:
      out += rule_name + ", action " + std::string(outcome_name(rule->action));
      break;
    case Reason::no_rule:
      out += "no rule matches (default deny)";
      break;
    case Reason::malformed_label:
      out += "malformed label: quarantined, never released";
      break;
    case Reason::required_removed:
      out += rule_name + " releases, but a required portion may not cross";
      break;
    case Reason::nothing_left:
      out += rule_name + " releases, but no portion may cross";
      break;
    case Reason::banner_marking:
      out += rule_name +
             " releases, but the banner itself is marked NOFORN, TLP:RED or ORCON (no portion "
             "is): the marking holds for the whole item";
      break;
    case Reason::orcon_review:
      out += rule_name + " releases, but ORCON material needs review";
      break;
    case Reason::content_hit: {
      const Pattern& p = policy.patterns()[d.hit->pattern];
      out += rule_name + " releases, but pattern \"" + p.id + "\" (line " + std::to_string(p.line) +
             ") matched " + hit_place(item, *d.hit) + " ending at byte " +
             std::to_string(d.hit->end) + ": " + std::string(outcome_name(p.action));
      break;
    }
    case Reason::inspection_failed:
      out += "content inspection failed (fail closed)";
      break;
    case Reason::expired:
      out += "the item expired at " + wire::format_rfc3339(item.getExpires()) +
             ", before it was judged: blocked, whatever the rules say";
      break;
  }
  out += "\n";
  auto portions = item.getPortions();
  for (unsigned i = 0; i < d.portions.size() && i < portions.size(); ++i) {
    auto p = portions[i];
    out += "  portion " + std::to_string(i);
    if (p.getName().size() > 0) out += " \"" + std::string(view(p.getName())) + "\"";
    out += " (" + std::string(view(p.getContentType())) + (p.getRequired() ? ", required" : "") +
           "): " + verdict_reason(policy, dest, p.getLabel(), d.portions[i]) + "\n";
  }
  auto attributes = item.getAttributes();
  for (unsigned i = 0; i < d.attributes.size() && i < attributes.size(); ++i) {
    std::string why = verdict_reason(policy, dest, item.getBanner(), d.attributes[i]);
    if (d.attributes[i] != Verdict::transform && d.attributes[i] != Verdict::expired &&
        why.starts_with("removed: ")) {
      why = "removed with the banner's label: " + why.substr(9);
    }
    out += "  attribute \"" + std::string(view(attributes[i].getName())) + "\": " + why + "\n";
  }
  std::string coarsen;
  auto names = transform_names(policy, d, &coarsen);
  if (!names.empty()) {
    out += "  transforms:";
    for (auto n : names) {
      out += " " + std::string(n);
      if (n == "coarsen_area") out += " (" + coarsen + " m)";
    }
    out += "\n";
  }
  if (d.outcome == Outcome::release) {
    out += d.changed ? "  released redacted; banner rolled up from what crosses\n"
                     : "  released unchanged\n";
  }
  return out;
}

std::string explain_json(const Policy& policy, schema::Item::Reader item, const Decision& d) {
  const Destination& dest = policy.destinations()[d.destination];
  std::string out = "{\"policy\":";
  json_string(out, policy.id());
  auto id = item.getId();
  out += ",\"item\":\"" + to_hex({id.begin(), id.size()}) + "\",\"destination\":";
  json_string(out, dest.id);
  out += ",\"outcome\":\"" + std::string(outcome_name(d.outcome)) + "\",\"reason\":\"" +
         std::string(reason_name(d.reason)) + "\",\"rule\":";
  if (d.rule) {
    const Rule& r = policy.rules()[*d.rule];
    out += "{\"id\":";
    json_string(out, r.id);
    out += ",\"line\":" + std::to_string(r.line) + "}";
  } else {
    out += "null";
  }
  out += ",\"portions\":[";
  auto portions = item.getPortions();
  for (unsigned i = 0; i < d.portions.size() && i < portions.size(); ++i) {
    if (i) out += ",";
    out += "{\"index\":" + std::to_string(i) + ",\"name\":";
    json_string(out, view(portions[i].getName()));
    out += ",\"verdict\":\"" + std::string(verdict_name(d.portions[i])) + "\",\"why\":";
    json_string(out, verdict_reason(policy, dest, portions[i].getLabel(), d.portions[i]));
    out += "}";
  }
  out += "],\"attributes\":[";
  auto attributes = item.getAttributes();
  for (unsigned i = 0; i < d.attributes.size() && i < attributes.size(); ++i) {
    if (i) out += ",";
    out += "{\"name\":";
    json_string(out, view(attributes[i].getName()));
    out += ",\"verdict\":\"" + std::string(verdict_name(d.attributes[i])) + "\"}";
  }
  out += "],\"transforms\":[";
  std::string coarsen;
  auto names = transform_names(policy, d, &coarsen);
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += ",";
    json_string(out, names[i]);
  }
  out += "]";
  if (!coarsen.empty()) out += ",\"coarsen_m\":" + coarsen;
  out += ",\"hit\":";
  if (d.hit) {
    const Pattern& p = policy.patterns()[d.hit->pattern];
    out += "{\"pattern\":";
    json_string(out, p.id);
    out += ",\"line\":" + std::to_string(p.line) + ",\"in\":\"" +
           (d.hit->in_attribute ? "attribute" : "portion") +
           "\",\"index\":" + std::to_string(d.hit->index) +
           ",\"end\":" + std::to_string(d.hit->end) + ",\"action\":\"" +
           std::string(outcome_name(p.action)) + "\"}";
  } else {
    out += "null";
  }
  if (d.malformed_portion) out += ",\"malformed_portion\":" + std::to_string(*d.malformed_portion);
  if (d.reason == Reason::expired) {
    out += ",\"expires\":";
    json_string(out, wire::format_rfc3339(item.getExpires()));
  }
  out += ",\"changed\":";
  out += d.changed ? "true" : "false";
  out += "}";
  return out;
}

Result<std::string> explain(const Policy& policy, schema::Item::Reader item,
                            std::string_view destination, bool json, std::int64_t now_ns) {
  std::vector<std::uint32_t> targets;
  if (destination.empty()) {
    for (std::uint32_t i = 0; i < policy.destinations().size(); ++i) targets.push_back(i);
  } else {
    auto index = policy.destination_index(destination);
    if (!index)
      return rejected("policy " + policy.id() + " has no destination '" + std::string(destination) +
                      "'");
    targets.push_back(*index);
  }
  auto eval = Evaluator::create(policy);
  if (!eval.ok()) return eval.status();
  std::string out;
  Decision d;
  for (std::uint32_t t : targets) {
    eval->decide(item, t, now_ns, d);
    out += json ? explain_json(policy, item, d) + "\n" : explain_text(policy, item, d);
  }
  return out;
}

}  // namespace cg::policy
