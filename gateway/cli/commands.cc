// The `cellgate` subcommand groups (commands.h). Each function owns its group's options: they
// live in the dispatcher it returns (shared with it because std::function must be copyable),
// which CLI11 fills during the parse and the dispatcher reads after it.
#include "gateway/cli/commands.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gateway/cli/cli.h"

namespace cg::cli {
namespace {

constexpr const char* force_help =
    "Replace an existing output file (never a symbolic link or special file)";

void add_key_options(CLI::App* cmd, KeyOptions& k, bool key_required) {
  if (key_required) {
    cmd->add_option("--key", k.key_file, "Private key file")->required()->check(CLI::ExistingFile);
  }
  cmd->add_option("--passphrase-file", k.passphrase_file,
                  "File whose first line is the key passphrase")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--unencrypted", k.unencrypted,
                "The private key file is (or is to be) stored unencrypted: a deliberate decision");
}

}  // namespace

CommandGroup add_item_commands(CLI::App& app) {
  struct Options {
    std::vector<std::string> files;
    bool json = false;
    std::string in_file, out_file;
    bool force = false;
  };
  auto o = std::make_shared<Options>();
  auto* item = app.add_subcommand("item", "Work with serialised items");
  item->require_subcommand(1);
  auto* check = item->add_subcommand("check", "Decode and validate item files (Cap'n Proto)");
  check->add_option("files", o->files, "Item files (JSON or Cap'n Proto)")
      ->required()
      ->check(CLI::ExistingFile);
  check->add_flag("--json", o->json, "One JSON object per file");
  auto* encode =
      item->add_subcommand("encode", "Write an item (JSON or Cap'n Proto) as Cap'n Proto");
  encode->add_option("in", o->in_file, "Item file")->required()->check(CLI::ExistingFile);
  encode->add_option("out", o->out_file, "Output file")->required();
  encode->add_flag("--force", o->force, force_help);
  auto* show = item->add_subcommand("show", "Print an item as JSON");
  show->add_option("file", o->in_file, "Item file")->required()->check(CLI::ExistingFile);
  return [o, check, encode, show]() -> std::optional<int> {
    if (*check) return item_check(o->files, o->json);
    if (*encode) return item_encode(o->in_file, o->out_file, o->force);
    if (*show) return item_show(o->in_file);
    return std::nullopt;
  };
}

CommandGroup add_audit_commands(CLI::App& app) {
  struct Options {
    std::string store_dir;
    bool json = false;
    std::uint64_t prove_index = 0, prove_size = 0;
    std::string prove_suite = "modern";
    std::string heads_out, heads_in, consistency_root;
    bool force = false;
  };
  auto o = std::make_shared<Options>();
  auto* audit = app.add_subcommand("audit", "Check audit logs");
  audit->require_subcommand(1);
  auto* verify = audit->add_subcommand("verify", "Verify a node's audit hash chain");
  verify->add_option("--store", o->store_dir, "The node's store directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  verify->add_flag("--json", o->json, "JSON output");
  auto* prove = audit->add_subcommand(
      "prove", "Print (and check) the inclusion proof of a relay log entry, as JSON");
  prove->add_option("--store", o->store_dir, "The relay's store directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  prove->add_option("index", o->prove_index, "Log index (a delivery's log_index)")->required();
  prove->add_option("--size", o->prove_size, "Tree size to prove against (default: all)");
  prove->add_option("--suite", o->prove_suite, "The deployment's suite")
      ->check(CLI::IsMember({"modern", "cnsa"}));
  auto* heads = audit->add_subcommand(
      "heads", "Export the relay's tree heads a receiver kept, for the other party");
  heads->add_option("--store", o->store_dir, "The receiver's store directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  heads->add_option("--out", o->heads_out, "File to write")->required();
  heads->add_flag("--force", o->force, force_help);
  auto* consistency = audit->add_subcommand(
      "check-consistency",
      "Check that the relay showed this receiver one append-only history, and the same one as "
      "the other party (exit 1 when it did not)");
  consistency->add_option("--store", o->store_dir, "The receiver's store directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  consistency->add_option("--trust-root", o->consistency_root, "The deployment's trust root")
      ->required()
      ->check(CLI::ExistingFile);
  consistency->add_option("--heads", o->heads_in, "The other party's heads (cellgate audit heads)")
      ->check(CLI::ExistingFile);
  consistency->add_flag("--json", o->json, "JSON output");
  return [o, verify, prove, heads, consistency]() -> std::optional<int> {
    if (*verify) return audit_verify(o->store_dir, o->json);
    if (*heads) return audit_heads(o->store_dir, o->heads_out, o->force);
    if (*consistency) {
      return audit_check_consistency(o->store_dir, o->consistency_root, o->heads_in, o->json);
    }
    if (*prove) {
      return audit_prove(
          o->store_dir, o->prove_index, o->prove_size,
          o->prove_suite == "cnsa" ? crypto::SuiteId::cnsa : crypto::SuiteId::modern);
    }
    return std::nullopt;
  };
}

CommandGroup add_config_commands(CLI::App& app) {
  struct Options {
    std::string file;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* config = app.add_subcommand("config", "Node configuration files");
  config->require_subcommand(1);
  auto* check = config->add_subcommand("check", "Validate a node config file");
  check->add_option("file", o->file, "Config file (TOML)")->required();
  check->add_flag("--json", o->json, "JSON output");
  return [o, check]() -> std::optional<int> {
    if (*check) return config_check(o->file, o->json);
    return std::nullopt;
  };
}

CommandGroup add_send_command(CLI::App& app) {
  auto o = std::make_shared<SendOptions>();
  auto* send_cmd = app.add_subcommand("send", "Submit items to a gateway as a source system");
  send_cmd->add_option("--gateway", o->gateway, "Gateway ingest endpoint (tcp://host:port)")
      ->required();
  send_cmd->add_option("--gateway-key", o->gateway_key, "Gateway CURVE public key (Z85)")
      ->required();
  send_cmd->add_option("--key-file", o->key_file, "This source's CURVE secret key file")
      ->required()
      ->check(CLI::ExistingFile);
  send_cmd->add_option("items", o->files, "Item files (JSON or Cap'n Proto); - for stdin")
      ->required();
  send_cmd->add_option("--window", o->window, "Items in flight")->check(CLI::Range(1, 4096));
  send_cmd->add_option("--timeout-ms", o->timeout_ms, "Ack timeout")
      ->check(CLI::Range(100, 600'000));
  send_cmd->add_flag("--json", o->json, "One JSON object per ack");
  send_cmd->add_flag("--stix", o->stix,
                     "Files are STIX 2.1 bundles: each object is sent as one item");
  send_cmd->add_option("--source", o->stix_source, "With --stix: the items' source name");
  send_cmd->add_option("--label-policy", o->stix_policy,
                       "With --stix: labelling policy id of the items' labels");
  send_cmd
      ->add_option("--levels", o->stix_levels,
                   "With --stix: that policy's classification levels, lowest first")
      ->delimiter(',');
  send_cmd->add_option("--default-level", o->stix_default_level,
                       "With --stix: classification of content no marking labels");
  return [o, send_cmd]() -> std::optional<int> {
    if (*send_cmd) return send(*o);
    return std::nullopt;
  };
}

CommandGroup add_tail_command(CLI::App& app) {
  auto o = std::make_shared<TailOptions>();
  auto* tail_cmd = app.add_subcommand("tail", "Receive items from a receiver as a consumer");
  tail_cmd->add_option("--receiver", o->receiver, "Receiver delivery endpoint")->required();
  tail_cmd->add_option("--format", o->format, "json (default) or stix (STIX 2.1 bundles)")
      ->check(CLI::IsMember({"json", "stix"}));
  tail_cmd
      ->add_option("--levels", o->levels,
                   "With --format stix: the labelling policy's level names, lowest first")
      ->delimiter(',');
  tail_cmd->add_option("--receiver-key", o->receiver_key, "Receiver CURVE public key (Z85)")
      ->required();
  tail_cmd->add_option("--key-file", o->key_file, "This consumer's CURVE secret key file")
      ->required()
      ->check(CLI::ExistingFile);
  tail_cmd->add_option("--window", o->window, "Unacknowledged items held")
      ->check(CLI::Range(1, 65536));
  tail_cmd->add_option("--count", o->count, "Stop after this many items");
  tail_cmd->add_option("--idle-exit-ms", o->idle_exit_ms, "Stop after this long idle")
      ->check(CLI::Range(0, 86'400'000));
  return [o, tail_cmd]() -> std::optional<int> {
    if (*tail_cmd) return tail(*o);
    return std::nullopt;
  };
}

CommandGroup add_curve_commands(CLI::App& app) {
  struct Options {
    std::string out;
    bool force = false;
  };
  auto o = std::make_shared<Options>();
  auto* curve = app.add_subcommand("curve", "CurveZMQ keys for sources and consumers");
  curve->require_subcommand(1);
  auto* keygen_cmd =
      curve->add_subcommand("keygen", "Write a CURVE secret key, print its public key");
  keygen_cmd->add_option("--out", o->out, "Secret key file to write (created new, 0600)")
      ->required();
  keygen_cmd->add_flag("--force", o->force, force_help);
  return [o, keygen_cmd]() -> std::optional<int> {
    if (*keygen_cmd) return curve_keygen(o->out, o->force);
    return std::nullopt;
  };
}

CommandGroup add_quarantine_commands(CLI::App& app) {
  struct Options {
    std::string store;
    std::uint64_t hold = 0;
    bool json = false;
    std::string config;
    QuarantineDecisionOptions decision;
  };
  auto o = std::make_shared<Options>();
  auto* quarantine = app.add_subcommand("quarantine", "Items a gateway holds for a reviewer");
  quarantine->require_subcommand(1);
  auto* list = quarantine->add_subcommand("list", "List the holds");
  list->add_option("--store", o->store, "The gateway's store directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  list->add_flag("--json", o->json, "One JSON object per hold");
  auto* show = quarantine->add_subcommand("show", "One hold: why, and the item");
  show->add_option("--store", o->store, "The gateway's store directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  show->add_option("hold", o->hold, "Hold id")->required();
  auto* release = quarantine->add_subcommand(
      "release", "Release a hold: sign it as a reviewer; the running gateway sends the item");
  auto* reject = quarantine->add_subcommand(
      "reject", "Reject a hold: sign it as a reviewer; the running gateway drops the item");
  for (auto* cmd : {release, reject}) {
    cmd->add_option("--config", o->config,
                    "The gateway's config: its store, party and trust root (reviewers)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("hold", o->decision.hold, "Hold id")->required();
    cmd->add_option("--wait", o->decision.wait_s,
                    "Seconds to wait for the running gateway's verdict (0: do not wait)")
        ->check(CLI::Range(0, 3600));
  }
  reject->add_option("--reason", o->decision.reason, "Why (signed, and audited)")->required();
  add_key_options(release, o->decision.key, true);
  add_key_options(reject, o->decision.key, true);
  return [o, list, show, release, reject]() -> std::optional<int> {
    if (*list) return quarantine_list(o->store, o->json);
    if (*show) return quarantine_show(o->store, o->hold);
    if (*reject) return quarantine_reject(o->config, o->decision);
    if (*release) return quarantine_release(o->config, o->decision);
    return std::nullopt;
  };
}

CommandGroup add_run_command(CLI::App& app) {
  auto config = std::make_shared<std::string>();
  auto* run_cmd = app.add_subcommand(
      "run", "Run a node (gateway, relay or receiver) from its config until stopped");
  run_cmd->add_option("--config", *config, "Node config (TOML)")
      ->required()
      ->check(CLI::ExistingFile);
  return [config, run_cmd]() -> std::optional<int> {
    if (*run_cmd) return run(*config);
    return std::nullopt;
  };
}

CommandGroup add_keygen_command(CLI::App& app) {
  auto o = std::make_shared<KeygenOptions>();
  auto* keygen_cmd =
      app.add_subcommand("keygen", "Write a node's signing and key-agreement keys, or a link key");
  keygen_cmd->add_option("--node", o->node, "Node id (file names)");
  keygen_cmd->add_option("--dir", o->dir, "Directory for the key files");
  keygen_cmd->add_option("--suite", o->suite, "modern, modern-aes or cnsa");
  add_key_options(keygen_cmd, o->keys, false);
  keygen_cmd->add_flag("--link", o->link, "Write a 32-byte link MAC key to --out instead");
  keygen_cmd->add_option("--out", o->out, "Link key file (with --link)");
  keygen_cmd->add_flag("--force", o->force, "Replace existing key files (still 0600)");
  return [o, keygen_cmd]() -> std::optional<int> {
    if (!*keygen_cmd) return std::nullopt;
    if (o->link ? o->out.empty() : o->node.empty()) {
      std::fprintf(stderr, "keygen: give --node ID (node keys) or --link --out FILE (link key)\n");
      return exit_usage;
    }
    return keygen(*o);
  };
}

CommandGroup add_trust_commands(CLI::App& app) {
  struct Options {
    std::string spec, file, out, previous;
    KeyOptions key;
    bool force = false;
  };
  auto o = std::make_shared<Options>();
  auto* trust = app.add_subcommand("trust", "Trust roots: parties, reviewers, nodes, root keys");
  trust->require_subcommand(1);
  auto* create = trust->add_subcommand("create", "An unsigned trust root from a TOML spec");
  create->add_option("spec", o->spec, "Spec file (TOML)")->required()->check(CLI::ExistingFile);
  create->add_option("--out", o->out, "Trust root file to write")->required();
  create->add_flag("--force", o->force, force_help);
  auto* sign = trust->add_subcommand("sign", "Add one root key's signature");
  sign->add_option("root", o->file, "Trust root file")->required()->check(CLI::ExistingFile);
  add_key_options(sign, o->key, true);
  sign->add_option("--out", o->out, "Write here instead of in place");
  sign->add_flag("--force", o->force, "Replace an existing --out file");
  auto* verify = trust->add_subcommand("verify", "Check a trust root as a node would");
  verify->add_option("root", o->file, "Trust root file")->required()->check(CLI::ExistingFile);
  verify->add_option("--previous", o->previous, "The root it replaces")->check(CLI::ExistingFile);
  return [o, create, sign, verify]() -> std::optional<int> {
    if (*create) return trust_create(o->spec, o->out, o->force);
    if (*sign) return trust_sign(o->file, o->key, o->out, o->force);
    if (*verify) return trust_verify(o->file, o->previous);
    return std::nullopt;
  };
}

CommandGroup add_rules_commands(CLI::App& app) {
  struct Options {
    RulesProposeOptions propose;
    std::string bundle, out, trust_root, old_file, new_file, items;
    KeyOptions key;
    bool force = false;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* rules = app.add_subcommand("rules", "Rules bundles: the reviewers' workflow");
  rules->require_subcommand(1);
  auto* propose = rules->add_subcommand("propose", "An unsigned bundle with the next version");
  propose->add_option("policy", o->propose.policy, "Policy file (TOML)")
      ->required()
      ->check(CLI::ExistingFile);
  propose->add_option("--party", o->propose.party, "Party (default: the policy's)");
  propose->add_option("--previous", o->propose.previous, "The bundle this one replaces")
      ->check(CLI::ExistingFile);
  propose->add_option("--suite", o->propose.suite,
                      "Deployment suite (hash of the previous bundle)");
  propose->add_option("--expires-days", o->propose.expires_days, "Validity")
      ->check(CLI::Range(1, 3650));
  propose->add_option("--out", o->propose.out, "Bundle file to write")->required();
  propose->add_flag("--force", o->propose.force,
                    "Replace an existing --out file (and the signatures it held)");
  auto* approve = rules->add_subcommand("approve", "Add one reviewer's signature");
  approve->add_option("bundle", o->bundle, "Bundle file")->required()->check(CLI::ExistingFile);
  add_key_options(approve, o->key, true);
  approve->add_option("--out", o->out, "Write here instead of in place");
  approve->add_flag("--force", o->force, "Replace an existing --out file");
  approve
      ->add_option("--trust-root", o->trust_root,
                   "The deployment's trust root: the key must be a reviewer of the bundle's party")
      ->required()
      ->check(CLI::ExistingFile);
  auto* verify = rules->add_subcommand("verify", "Which signatures count; is the threshold met");
  verify->add_option("bundle", o->bundle, "Bundle file")->required()->check(CLI::ExistingFile);
  verify->add_option("--trust-root", o->trust_root, "Trust root file")
      ->required()
      ->check(CLI::ExistingFile);
  auto* diff =
      rules->add_subcommand("diff", "Rule-level differences between two bundles or policies");
  diff->add_option("old", o->old_file, "Old bundle or policy")
      ->required()
      ->check(CLI::ExistingFile);
  diff->add_option("new", o->new_file, "New bundle or policy")
      ->required()
      ->check(CLI::ExistingFile);
  auto* impact =
      rules->add_subcommand("impact", "Every decision on a corpus that the change alters");
  impact->add_option("old", o->old_file, "Old bundle or policy")
      ->required()
      ->check(CLI::ExistingFile);
  impact->add_option("new", o->new_file, "New bundle or policy")
      ->required()
      ->check(CLI::ExistingFile);
  impact->add_option("--items", o->items, "Directory of item files")
      ->required()
      ->check(CLI::ExistingDirectory);
  impact->add_flag("--json", o->json,
                   "One JSON object per changed decision, then a summary object");
  return [o, propose, approve, verify, diff, impact]() -> std::optional<int> {
    if (*propose) return rules_propose(o->propose);
    if (*approve) return rules_approve(o->bundle, o->key, o->trust_root, o->out, o->force);
    if (*verify) return rules_verify(o->bundle, o->trust_root);
    if (*diff) return rules_diff(o->old_file, o->new_file);
    if (*impact) return rules_impact(o->old_file, o->new_file, o->items, o->json);
    return std::nullopt;
  };
}

CommandGroup add_policy_commands(CLI::App& app) {
  struct Options {
    std::string policy, item, destination;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* policy = app.add_subcommand("policy", "Releasability policies");
  policy->require_subcommand(1);
  auto* explain = policy->add_subcommand("explain", "Decide one item and say why");
  explain->add_option("--policy", o->policy, "Policy or bundle file")
      ->required()
      ->check(CLI::ExistingFile);
  explain->add_option("--item", o->item, "Item file (JSON or Cap'n Proto)")
      ->required()
      ->check(CLI::ExistingFile);
  explain->add_option("--destination", o->destination, "Only this destination");
  explain->add_flag("--json", o->json, "JSON output");
  return [o, explain]() -> std::optional<int> {
    if (*explain) return policy_explain(o->policy, o->item, o->destination, o->json);
    return std::nullopt;
  };
}

}  // namespace cg::cli
