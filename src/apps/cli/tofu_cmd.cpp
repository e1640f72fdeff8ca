// `ostls tofu list|show|pin|forget`: the trust-on-first-use memory, like known_hosts.
// A TARGET names one peer as ostls keys it: PROTO://host[:port] (host lower-cased; a bare
// host:port is SMTP unless --protocol says otherwise).
#include <cctype>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/cli/commands.hpp"
#include "apps/cli/store_opts.hpp"
#include "dns/resolver.hpp"
#include "probe/probe.hpp"
#include "probe/target.hpp"
#include "report/log_line.hpp"
#include "store/store.hpp"

namespace ostls::cli {

struct TofuArgs {
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* pin = nullptr;
  CLI::App* forget = nullptr;
  std::string target, protocol;
  std::string dns_config;
  bool json = false;
  StoreOptions store;
};

namespace {

int usage(const std::string& message) {
  fmt::print(stderr, "ostls tofu: {}\n", message);
  return exit_usage;
}


nlohmann::json pin_json(const store::PeerKey& k, const store::Pin& p) {
  return {{"host", k.host},       {"port", k.port},           {"protocol", k.protocol},
          {"spki_sha256", p.spki_sha256}, {"first_seen", store::iso_time(p.first_seen)}, {"last_seen", store::iso_time(p.last_seen)}};
}

std::string pin_line(const store::PeerKey& k, const store::Pin& p) {
  return fmt::format("{}://[{}]:{}  sha256 {}  pinned {}  last seen {}", k.protocol, k.host, k.port, p.spki_sha256,
                     store::iso_time(p.first_seen), store::iso_time(p.last_seen));
}

Result<store::PeerKey> peer_key(const std::string& text, const std::string& protocol) {
  auto t = probe::parse_target(text, protocol);
  if (!t) return unexpected<Error>(t.error());
  std::string host = t->host;
  for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return store::PeerKey{host, t->port, std::string(t->protocol.canonical)};
}

// Key rollover: probe the target at `encrypt` (no pin consulted) and pin the key it presents.
int pin_now(const TofuArgs& args, const store::PeerKey& key, store::Store& db) {
  auto target = probe::parse_target(args.target, args.protocol);
  if (!target) return usage(target.error().detail);
  probe::Options opts;
  opts.level = Level::Encrypt;
  opts.level_source = PolicySource::CommandLine;
  opts.helo = default_helo();
  asio::io_context io;
  std::unique_ptr<dns::Resolver> resolver;
  if (!target->is_ip_literal || !args.dns_config.empty()) {
    auto r = dns::Resolver::create(io.get_executor(), {.config_file = args.dns_config});
    if (!r) return usage(r.error().detail);
    resolver = std::move(*r);
    opts.resolver = resolver.get();
  }
  Outcome outcome;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { outcome = co_await probe::run(*target, opts); },
      [](const std::exception_ptr& e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  if (!outcome.tls || !outcome.tls->peer) {
    fmt::print(stderr, "ostls tofu: no key to pin: {}\n{}", report::log_line(outcome), report::reason_block(outcome));
    return outcome.verdict == Verdict::Defer ? exit_defer : exit_fail;
  }
  const auto& spki = outcome.tls->peer->spki_sha256;
  if (auto w = db.set_pin(key, spki, store::now()); !w) return usage(w.error().detail);
  auto pin = db.pin(key);
  if (!pin || !*pin) return usage(pin ? "the pin was not stored" : pin.error().detail);
  fmt::print("{}\n", args.json ? pin_json(key, **pin).dump() : pin_line(key, **pin));
  return exit_ok;
}

}  // namespace

std::shared_ptr<TofuArgs> add_tofu(CLI::App& app) {
  auto args = std::make_shared<TofuArgs>();
  auto* tofu = app.add_subcommand("tofu", "list, show, pin or forget trust-on-first-use pins");
  tofu->require_subcommand(1);
  add_store_options(*tofu, args->store);
  args->list = tofu->add_subcommand("list", "every pin");
  args->list->add_flag("--json", args->json, "one JSON object per pin");
  args->show = tofu->add_subcommand("show", "the pin of one peer");
  args->pin = tofu->add_subcommand("pin", "probe the peer and pin the key it presents now (key rollover)");
  args->forget = tofu->add_subcommand("forget", "remove the pin of one peer");
  for (auto* sub : {args->show, args->pin, args->forget}) {
    sub->add_option("TARGET", args->target, "PROTO://host[:port]")->required();
    sub->add_option("--protocol", args->protocol, "scheme for a TARGET written without one");
    sub->add_flag("--json", args->json, "JSON output");
  }
  args->pin->add_option("--dns-config", args->dns_config, "unbound.conf-syntax file for the resolver")
      ->check(CLI::ExistingFile);
  return args;
}

int run_tofu(const TofuArgs& args) {
  auto opened = open_store(args.store);
  if (!opened) return usage(opened.error().detail);
  if (!*opened) return usage("--no-store leaves nothing to list, show, pin or forget");
  store::Store& db = **opened;
  if (args.list->parsed()) {
    auto pins = db.pins();
    if (!pins) return usage(pins.error().detail);
    for (const auto& [key, pin] : *pins) {
      fmt::print("{}\n", args.json ? pin_json(key, pin).dump() : pin_line(key, pin));
    }
    return exit_ok;
  }
  auto key = peer_key(args.target, args.protocol);
  if (!key) return usage(key.error().detail);
  if (args.show->parsed()) {
    auto pin = db.pin(*key);
    if (!pin) return usage(pin.error().detail);
    if (!*pin) {
      fmt::print(stderr, "ostls tofu: no pin for {}://[{}]:{}\n", key->protocol, key->host, key->port);
      return exit_fail;
    }
    fmt::print("{}\n", args.json ? pin_json(*key, **pin).dump() : pin_line(*key, **pin));
    return exit_ok;
  }
  if (args.forget->parsed()) {
    auto gone = db.forget_pin(*key);
    if (!gone) return usage(gone.error().detail);
    if (!*gone) {
      fmt::print(stderr, "ostls tofu: no pin for {}://[{}]:{}\n", key->protocol, key->host, key->port);
      return exit_fail;
    }
    fmt::print("forgot the pin of {}://[{}]:{}\n", key->protocol, key->host, key->port);
    return exit_ok;
  }
  return pin_now(args, *key, db);
}

}  // namespace ostls::cli
