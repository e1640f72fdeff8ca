// `ostls probe [options] TARGET...`: one Outcome per target, as the human line + reason block
// or as JSON Lines; exit status 0 (all met their policy), 1 (some failed), 75 (some deferred,
// none failed), 2 (usage or configuration error).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/cli/commands.hpp"
#include "apps/cli/store_opts.hpp"
#include "policy/policy_map.hpp"
#include "probe/probe.hpp"
#include "probe/srv.hpp"
#include "report/json.hpp"
#include "report/log_line.hpp"

namespace ostls::cli {

struct ProbeArgs {
  std::vector<std::string> targets;
  std::string level = "opportunistic";
  std::string policy_map;
  std::vector<std::string> match;
  std::string cafile, capath, servername, helo, dns_config, xmpp_domain, protocol;
  bool implicit = false, starttls_only = false;
  std::uint16_t port = 0, mta_sts_port = 443;
  double timeout = 30;
  bool json = false, verbose = false, try_starttls = false, srv = false, sticky = false;
  Limits limits;
  StoreOptions store;
};

std::string default_helo() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

namespace {

int usage(const std::string& message) {
  fmt::print(stderr, "ostls probe: {}\n", message);
  return exit_usage;
}

void print_transcript(net::Direction d, std::string_view line) {
  const char* mark = d == net::Direction::Received ? "<" : d == net::Direction::Sent ? ">" : "*";
  fmt::print(stderr, "{} {}\n", mark, line);
}

}  // namespace

std::shared_ptr<ProbeArgs> add_probe(CLI::App& app) {
  auto args = std::make_shared<ProbeArgs>();
  auto* cmd = app.add_subcommand("probe", "Connect to peers, negotiate the best security policy allows, report it");
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("targets", args->targets, "PROTO://host[:port] or PROTO://[host][:port]")
      ->required()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--policy", args->level,
                  "Security level: none, may, encrypt, fingerprint, tofu, dane, dane-only, verify, secure, opportunistic (default)");
  cmd->add_option("--policy-map", args->policy_map, "Policy table in Postfix smtp_tls_policy_maps syntax")
      ->check(CLI::ExistingFile);
  cmd->add_option("--match", args->match,
                  "fingerprint: SHA-256 of certificate or SPKI; verify/secure: a name to match (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--cafile", args->cafile, "Trust anchors (PEM file); default: the system store")
      ->check(CLI::ExistingFile);
  cmd->add_option("--capath", args->capath, "Trust anchors (hashed directory)")->check(CLI::ExistingDirectory);
  cmd->add_option("--servername", args->servername, "SNI and reference identifier (default: the target host)");
  cmd->add_option("--dns-config", args->dns_config,
                  "unbound.conf-syntax file for the validating resolver (stub-zone, trust-anchor-file, …); "
                  "default: recursion from the root with the system's root trust anchor")
      ->check(CLI::ExistingFile);
  cmd->add_option("--protocol", args->protocol, "Scheme for targets written as host:port (e.g. imap)");
  cmd->add_flag("--implicit", args->implicit, "TLS from the first byte on the given port (e.g. imap on 993)");
  cmd->add_flag("--starttls-only", args->starttls_only, "STARTTLS on the given port even for an implicit scheme")
      ->excludes("--implicit");
  cmd->add_option("--port", args->port, "Port for every target and every MX host (overrides the scheme's; with --srv only for the no-SRV fallback)")
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--xmpp-domain", args->xmpp_domain, "XMPP stream 'to' (default: with --srv the service domain, else --servername, else the target host)");
  cmd->add_option("--helo", args->helo, "Name sent in EHLO/LHLO (default: this host's name)");
  cmd->add_option("--timeout", args->timeout, "Seconds for the whole probe of one target, connect to QUIT")
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_flag("--json", args->json, "One JSON object per target (JSON Lines)");
  cmd->add_flag("-v,--verbose", args->verbose, "Show the dialogue on stderr (< received, > sent)");
  cmd->add_flag("--try-starttls", args->try_starttls, "Send STARTTLS even when not advertised");
  cmd->add_flag("--srv", args->srv,
                "The target host is a service domain: probe its SRV targets (RFC 2782) with DANE per RFC 7673 "
                "(imap, imaps, pop3, pop3s, submission, smtps, xmpp, xmpp-server); a target port is used only "
                "when there are no SRV records");
  cmd->add_flag("--sticky", args->sticky,
                "R11: fail when a peer that completed TLS before now does not (instead of continuing in cleartext)");
  cmd->add_option("--mta-sts-port", args->mta_sts_port,
                  "Port of the MTA-STS policy hosts (RFC 8461: 443; another port is for labs and tests)")
      ->check(CLI::Range(1, 65535));
  add_store_options(*cmd, args->store);
  cmd->add_option("--max-line", args->limits.max_line, "Longest accepted protocol line in bytes")
      ->check(CLI::Range(64, 1 << 24));
  cmd->add_option("--max-reply-lines", args->limits.max_reply_lines, "Most lines in one reply")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--max-reply-bytes", args->limits.max_reply_bytes, "Most bytes in one reply")
      ->check(CLI::Range(64, 1 << 26));
  return args;
}

int run_probe(const ProbeArgs& args) {
  probe::Options opts;
  const auto level = parse_level(args.level);
  if (!level) return usage(fmt::format("unknown level \"{}\"", args.level));
  if (!is_implemented(*level)) {
    return usage(fmt::format("level {} is not available yet", args.level));
  }
  opts.level = *level;
  opts.level_source = args.level == "opportunistic" ? PolicySource::Default : PolicySource::CommandLine;
  if (*level == Level::Fingerprint && args.match.empty() && args.policy_map.empty()) {
    return usage("--policy fingerprint needs at least one --match DIGEST");
  }
  std::optional<policy::PolicyMap> map;
  if (!args.policy_map.empty()) {
    auto m = policy::PolicyMap::load(args.policy_map);
    if (!m) return usage(m.error().detail);
    map = std::move(*m);
    opts.policy_map = &*map;
  }
  opts.match = args.match;
  opts.cafile = args.cafile;
  opts.capath = args.capath;
  if (!args.servername.empty()) opts.servername = args.servername;
  opts.helo = args.helo.empty() ? default_helo() : args.helo;
  if (!args.xmpp_domain.empty()) opts.xmpp_domain = args.xmpp_domain;
  opts.timeout = std::chrono::milliseconds(static_cast<long>(args.timeout * 1000));
  opts.try_starttls = args.try_starttls;
  opts.srv = args.srv;
  opts.limits = args.limits;
  opts.sticky = args.sticky;
  opts.mta_sts_port = args.mta_sts_port;
  if (args.verbose) opts.transcript = print_transcript;
  auto store = open_store(args.store);
  if (!store) return usage(store.error().detail);
  if (*store) opts.store = &**store;

  std::vector<probe::Target> targets;
  for (const auto& text : args.targets) {
    auto t = probe::parse_target(text, args.protocol);
    if (!t) return usage(t.error().detail);
    t = probe::with_tls_mode(std::move(*t), args.implicit        ? probe::TlsMode::Implicit
                                            : args.starttls_only ? probe::TlsMode::Starttls
                                                                 : probe::TlsMode::AsScheme);
    if (!t) return usage(t.error().detail);
    if (args.port != 0) t->port = args.port;
    if (args.srv) {
      if (auto owner = probe::srv_owner(*t); !owner) return usage(owner.error().detail);
    }
    targets.push_back(std::move(*t));
  }
  if (map) {
    for (const auto& t : targets) {
      if (const auto* e = map->lookup(t.host, t.port); e && !is_implemented(e->level)) {
        return usage(fmt::format("{}:{}: level {} is not available yet", args.policy_map, e->line, name(e->level)));
      }
    }
  }

  bool any_fail = false, any_defer = false;
  asio::io_context io;
  // Every host name goes through the validating resolver (DNSSEC state for DANE, R9).
  std::unique_ptr<dns::Resolver> resolver;
  const bool needs_dns = !args.dns_config.empty() ||
                         std::any_of(targets.begin(), targets.end(), [](const auto& t) { return !t.is_ip_literal; });
  if (needs_dns) {
    auto r = dns::Resolver::create(io.get_executor(), {.config_file = args.dns_config});
    if (!r) return usage(r.error().detail);
    resolver = std::move(*r);
    opts.resolver = resolver.get();
  }
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (const auto& t : targets) {
          const Outcome o = co_await probe::run(t, opts);
          any_fail |= o.verdict == Verdict::Fail;
          any_defer |= o.verdict == Verdict::Defer;
          if (args.json) {
            fmt::print("{}\n", report::to_json(o).dump());
          } else {
            fmt::print("{}\n{}", report::log_line(o), report::reason_block(o));
          }
          std::fflush(stdout);
        }
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  return any_fail ? exit_fail : any_defer ? exit_defer : exit_ok;
}

}  // namespace ostls::cli
