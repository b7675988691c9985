// gateway/cli: the `cellgate` command line, one registration function per subcommand group.
// Each add_*_commands declares its group's subcommands and flags on `app` (CLI11) with options
// of its own (no variable is shared between groups) and returns the group's dispatcher: after
// a successful parse it runs the group's chosen command and returns its exit code (cli.h), or
// nullopt when the command chosen belongs to another group. main() registers every group, in
// the order `cellgate --help` lists them, parses once and asks each dispatcher in turn.
#pragma once

#include <functional>
#include <optional>

namespace CLI {
class App;
}  // namespace CLI

namespace cg::cli {

using CommandGroup = std::function<std::optional<int>()>;

CommandGroup add_item_commands(CLI::App& app);        // item check|encode|show
CommandGroup add_audit_commands(CLI::App& app);       // audit verify|prove|heads|check-consistency
CommandGroup add_config_commands(CLI::App& app);      // config check
CommandGroup add_send_command(CLI::App& app);         // send
CommandGroup add_tail_command(CLI::App& app);         // tail
CommandGroup add_curve_commands(CLI::App& app);       // curve keygen
CommandGroup add_quarantine_commands(CLI::App& app);  // quarantine list|show|release|reject
CommandGroup add_run_command(CLI::App& app);          // run
CommandGroup add_keygen_command(CLI::App& app);       // keygen
CommandGroup add_trust_commands(CLI::App& app);       // trust create|sign|verify
CommandGroup add_rules_commands(CLI::App& app);       // rules propose|approve|verify|diff|impact
CommandGroup add_policy_commands(CLI::App& app);      // policy explain

}  // namespace cg::cli
