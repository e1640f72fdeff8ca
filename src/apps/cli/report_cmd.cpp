// `ostls report tlsrpt`: the RFC 8460 §4 aggregate report of one policy domain and one UTC day,
// from the outcomes `ostls probe` recorded in the store (SPEC R12); or, with --check DOMAIN,
// where that domain wants its reports (the `_smtp._tls` TXT record, RFC 8460 §3, looked up
// through the validating resolver). Exit status as probe: 0 ok, 1 nothing to report / no valid
// record, 75 temporary (DNS lookup failed, store unreadable), 2 usage.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/cli/commands.hpp"
#include "apps/cli/store_opts.hpp"
#include "dns/records.hpp"
#include "dns/resolver.hpp"
#include "report/gzip.hpp"
#include "report/tlsrpt.hpp"
#include "report/tlsrpt_record.hpp"
#include "store/store.hpp"

namespace ostls::cli {

struct ReportArgs {
  CLI::App* tlsrpt = nullptr;
  std::string domain, date, organization, contact, report_id, output;
  bool gzip = false;
  std::string check, dns_config;
  double timeout = 30;
  StoreOptions store;
};

namespace {

int usage(const std::string& message) {
  fmt::print(stderr, "ostls report: {}\n", message);
  return exit_usage;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// --check: the `_smtp._tls.<domain>` TXT RRset through the validating resolver, then RFC 8460 §3.
int check(const ReportArgs& args) {
  const std::string domain = dns::normalize_name(args.check);
  if (domain.empty()) return usage("--check needs a domain");
  const std::string owner = "_smtp._tls." + domain;
  asio::io_context io;
  auto resolver = dns::Resolver::create(io.get_executor(), {.config_file = args.dns_config});
  if (!resolver) return usage(resolver.error().detail);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long>(args.timeout * 1000));
  dns::Answer answer;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { answer = co_await (*resolver)->query(owner, dns::rrtype::txt, deadline); },
      [](const std::exception_ptr& e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  fmt::print("owner:  {} TXT\ndnssec: {}\n", owner, dns::state(answer));
  const auto found = report::read_tlsrpt(answer, domain);
  if (found.record) fmt::print("record: {}\n", *found.record);
  if (!found.policy) {
    fmt::print("error:  {}\n", found.error.value_or("no TLS-RPT policy"));
    return found.state == "bogus" || found.state == "servfail" ? exit_defer : exit_fail;
  }
  const auto& policy = found.policy;
  for (const auto& uri : policy->rua) fmt::print("rua:    {}\n", uri);
  for (const auto& [name, value] : policy->extensions) fmt::print("ignored: {}={} (unknown field)\n", name, value);
  return exit_ok;
}

int write_report(const ReportArgs& args, const std::string& text, const std::string& sender, store::Seconds day,
                 const std::string& domain) {
  std::string bytes = text;
  if (args.gzip) {
    auto z = report::gzip(text);
    if (!z) return usage(z.error().detail);
    bytes = std::move(*z);
  }
  if (args.output.empty()) {
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    return std::fflush(stdout) == 0 ? exit_ok : exit_fail;
  }
  std::filesystem::path path = args.output;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    path /= report::report_filename({.sender = sender, .policy_domain = domain, .day = day, .gzip = args.gzip});
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return usage(fmt::format("cannot write {}", path.string()));
  fmt::print("{}\n", path.string());
  return exit_ok;
}

int generate(const ReportArgs& args) {
  if (args.domain.empty() || args.date.empty()) return usage("tlsrpt needs --domain and --date (or --check DOMAIN)");
  const auto day = report::parse_day(args.date);
  if (!day) return usage(day.error().detail);
  const std::string domain = dns::normalize_name(args.domain);
  const std::string host = host_name();
  const std::string contact = args.contact.empty() ? "postmaster@" + host : args.contact;
  const auto at = contact.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == contact.size()) {
    return usage(fmt::format("--contact-info \"{}\" is not a mail address", contact));
  }
  auto opened = open_store(args.store);
  if (!opened) return usage(opened.error().detail);
  if (!*opened) return usage("--no-store leaves nothing to report on");
  auto records = (*opened)->outcomes(domain, *day, *day + 86400);
  if (!records) {
    fmt::print(stderr, "ostls report: cannot read the store: {}\n", records.error().detail);
    return exit_defer;
  }
  if (report::session_count(*records) == 0) {
    fmt::print(stderr, "ostls report: no TLS session with {} recorded on {} (UTC)\n", domain, args.date);
    return exit_fail;
  }
  const auto json = report::aggregate({.organization = args.organization.empty() ? host : args.organization,
                                       .contact = contact,
                                       .report_id = args.report_id.empty()
                                                        ? fmt::format("{}_{}", store::iso_time(*day), domain)
                                                        : args.report_id,
                                       .policy_domain = domain,
                                       .day = *day},
                                      *records);
  return write_report(args, json.dump(2) + "\n", dns::normalize_name(contact.substr(at + 1)), *day, domain);
}

}  // namespace

std::shared_ptr<ReportArgs> add_report(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  auto* report = app.add_subcommand("report", "TLS-RPT (RFC 8460) aggregate reports from recorded outcomes");
  report->require_subcommand(1);
  auto* t = report->add_subcommand("tlsrpt", "the RFC 8460 JSON report of one domain and one UTC day, or --check");
  args->tlsrpt = t;
  auto* chk = t->add_option("--check", args->check,
                            "look up DOMAIN's _smtp._tls TXT record (RFC 8460 §3) and show where reports go");
  auto only_report = [&](CLI::Option* o) { o->excludes(chk); };
  only_report(t->add_option("--domain", args->domain, "the policy domain reported on (the smtp:// target's domain)"));
  only_report(t->add_option("--date", args->date, "the UTC day reported on, YYYY-MM-DD"));
  only_report(t->add_option("--organization", args->organization, "organization-name (default: this host's name)"));
  only_report(t->add_option("--contact-info", args->contact, "contact-info mail address (default: postmaster@HOST)"));
  only_report(t->add_option("--report-id", args->report_id, "report-id (default: START-DATETIME_DOMAIN)"));
  only_report(t->add_flag("--gzip", args->gzip, "gzip the report (RFC 8460 §5.3 .json.gz)"));
  only_report(t->add_option("--output", args->output,
                            "write to FILE, or into DIRECTORY under the RFC 8460 §5.3 file name (default: stdout)"));
  t->add_option("--dns-config", args->dns_config, "--check: unbound.conf-syntax file for the validating resolver")
      ->check(CLI::ExistingFile)
      ->needs(chk);
  t->add_option("--timeout", args->timeout, "--check: seconds for the DNS lookup")->check(CLI::Range(0.1, 3600.0));
  add_store_options(*t, args->store);
  for (const char* name : {"--store", "--no-store"}) only_report(t->get_option(name));
  return args;
}

int run_report(const ReportArgs& args) { return args.check.empty() ? generate(args) : check(args); }

}  // namespace ostls::cli
