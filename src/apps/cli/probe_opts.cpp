#include "apps/cli/probe_opts.hpp"

#include <fmt/format.h>

#include "apps/cli/commands.hpp"
#include "probe/srv.hpp"

namespace ostls::cli {

void add_probe_flags(CLI::App& cmd, ProbeFlags& flags) {
  cmd.add_option("--policy", flags.level,
                 "Security level: none, may, encrypt, fingerprint, tofu, dane, dane-only, verify, secure, opportunistic (default)");
  cmd.add_option("--policy-map", flags.policy_map, "Policy table in Postfix smtp_tls_policy_maps syntax")
      ->check(CLI::ExistingFile);
  cmd.add_option("--match", flags.match,
                 "fingerprint: SHA-256 of certificate or SPKI; verify/secure: a name to match (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd.add_option("--cafile", flags.cafile, "Trust anchors (PEM file); default: the system store")
      ->check(CLI::ExistingFile);
  cmd.add_option("--capath", flags.capath, "Trust anchors (hashed directory)")->check(CLI::ExistingDirectory);
  cmd.add_option("--servername", flags.servername, "SNI and reference identifier (default: the target host)");
  cmd.add_option("--dns-config", flags.dns_config,
                 "unbound.conf-syntax file for the validating resolver (stub-zone, trust-anchor-file, …); "
                 "default: recursion from the root with the system's root trust anchor")
      ->check(CLI::ExistingFile);
  cmd.add_option("--protocol", flags.protocol, "Scheme for targets written as host:port (e.g. imap)");
  cmd.add_flag("--implicit", flags.implicit, "TLS from the first byte on the given port (e.g. imap on 993)");
  cmd.add_flag("--starttls-only", flags.starttls_only, "STARTTLS on the given port even for an implicit scheme")
      ->excludes("--implicit");
  cmd.add_option("--port", flags.port, "Port for every target and every MX host (overrides the scheme's; with --srv only for the no-SRV fallback)")
      ->check(CLI::Range(1, 65535));
  cmd.add_option("--xmpp-domain", flags.xmpp_domain, "XMPP stream 'to' (default: with --srv the service domain, else --servername, else the target host)");
  cmd.add_option("--helo", flags.helo, "Name sent in EHLO/LHLO (default: this host's name)");
  cmd.add_option("--timeout", flags.timeout, "Seconds for the whole probe of one target, connect to QUIT")
      ->check(CLI::Range(0.1, 3600.0));
  cmd.add_flag("--try-starttls", flags.try_starttls, "Send STARTTLS even when not advertised");
  cmd.add_flag("--srv", flags.srv,
               "The target host is a service domain: probe its SRV targets (RFC 2782) with DANE per RFC 7673 "
               "(imap, imaps, pop3, pop3s, submission, smtps, xmpp, xmpp-server); a target port is used only "
               "when there are no SRV records");
  cmd.add_flag("--sticky", flags.sticky,
               "R11: fail when a peer that completed TLS before now does not (instead of continuing in cleartext)");
  cmd.add_option("--mta-sts-port", flags.mta_sts_port,
                 "Port of the MTA-STS policy hosts (RFC 8461: 443; another port is for labs and tests)")
      ->check(CLI::Range(1, 65535));
  add_store_options(cmd, flags.store);
  cmd.add_option("--max-line", flags.limits.max_line, "Longest accepted protocol line in bytes")
      ->check(CLI::Range(64, 1 << 24));
  cmd.add_option("--max-reply-lines", flags.limits.max_reply_lines, "Most lines in one reply")
      ->check(CLI::Range(1, 1 << 20));
  cmd.add_option("--max-reply-bytes", flags.limits.max_reply_bytes, "Most bytes in one reply")
      ->check(CLI::Range(64, 1 << 26));
}

Result<void> configure(const ProbeFlags& flags, ProbeSetup& setup) {
  probe::Options& opts = setup.options;
  const auto level = parse_level(flags.level);
  if (!level) return fail(Errc::Usage, Fault::Config, fmt::format("unknown level \"{}\"", flags.level));
  if (!is_implemented(*level)) {
    return fail(Errc::Usage, Fault::Config, fmt::format("level {} is not available yet", flags.level));
  }
  opts.level = *level;
  opts.level_source = flags.level == "opportunistic" ? PolicySource::Default : PolicySource::CommandLine;
  if (*level == Level::Fingerprint && flags.match.empty() && flags.policy_map.empty()) {
    return fail(Errc::Usage, Fault::Config, "--policy fingerprint needs at least one --match DIGEST");
  }
  if (!flags.policy_map.empty()) {
    auto m = policy::PolicyMap::load(flags.policy_map);
    if (!m) return unexpected<Error>(m.error());
    setup.map = std::move(*m);
    opts.policy_map = &*setup.map;
  }
  opts.match = flags.match;
  opts.cafile = flags.cafile;
  opts.capath = flags.capath;
  if (!flags.servername.empty()) opts.servername = flags.servername;
  opts.helo = flags.helo.empty() ? default_helo() : flags.helo;
  if (!flags.xmpp_domain.empty()) opts.xmpp_domain = flags.xmpp_domain;
  opts.timeout = std::chrono::milliseconds(static_cast<long>(flags.timeout * 1000));
  opts.try_starttls = flags.try_starttls;
  opts.srv = flags.srv;
  opts.limits = flags.limits;
  opts.sticky = flags.sticky;
  opts.mta_sts_port = flags.mta_sts_port;
  auto store = open_store(flags.store);
  if (!store) return unexpected<Error>(store.error());
  setup.store = std::move(*store);
  if (setup.store) opts.store = &*setup.store;
  return {};
}

Result<probe::Target> make_target(const ProbeFlags& flags, std::string_view text) {
  auto t = probe::parse_target(text, flags.protocol);
  if (!t) return t;
  t = probe::with_tls_mode(std::move(*t), flags.implicit        ? probe::TlsMode::Implicit
                                          : flags.starttls_only ? probe::TlsMode::Starttls
                                                                : probe::TlsMode::AsScheme);
  if (!t) return t;
  if (flags.port != 0) t->port = flags.port;
  if (flags.srv) {
    if (auto owner = probe::srv_owner(*t); !owner) return unexpected<Error>(owner.error());
  }
  return t;
}

Result<void> check_map_level(const ProbeFlags& flags, const policy::PolicyMap& map, const probe::Target& t) {
  if (const auto* e = map.lookup(t.host, t.port); e && !is_implemented(e->level)) {
    return fail(Errc::Usage, Fault::Config,
                fmt::format("{}:{}: level {} is not available yet", flags.policy_map, e->line, name(e->level)));
  }
  return {};
}

}  // namespace ostls::cli
