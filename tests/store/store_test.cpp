// store::Store on its real engines: SQLite always (a file in a temporary directory), and
// PostgreSQL when OSTLS_TEST_POSTGRES holds a conninfo for an empty database (the `store_postgres`
// lab test provides one on the lab's PostgreSQL). Same cases for both: the schema migrates once,
// pins and memory round-trip, and two processes writing at once lose nothing.
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "store/store.hpp"

namespace ostls::store {
namespace {

class StoreTest : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      const char* conninfo = std::getenv("OSTLS_TEST_POSTGRES");
      if (conninfo == nullptr) GTEST_SKIP() << "OSTLS_TEST_POSTGRES not set (run by the store_postgres lab test)";
      spec_ = conninfo;
      auto s = Store::open(spec_);
      ASSERT_TRUE(s) << s.error().detail;
      // Start from empty tables: the database is shared by the cases of one run.
      auto pins = s->pins();
      ASSERT_TRUE(pins);
      for (const auto& entry : *pins) (void)s->forget_pin(entry.first);
      return;
    }
    dir_ = std::filesystem::temp_directory_path() / ("ostls-store-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    spec_ = (dir_ / "ostls.db").string();
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  Store open() {
    auto s = Store::open(spec_);
    EXPECT_TRUE(s) << s.error().detail;
    return std::move(*s);
  }

  std::string spec_;
  std::filesystem::path dir_;
};

const PeerKey mx{"mx.example.org", 25, "smtp"};

TEST_P(StoreTest, OpensMigratedAndReopensWithoutMigratingAgain) {
  auto s = open();
  EXPECT_EQ(s.schema_version(), 3);
  EXPECT_EQ(s.engine(), GetParam());
  ASSERT_TRUE(s.set_pin(mx, "aa", 100));
  auto again = open();  // the migration is idempotent and the data survives
  EXPECT_EQ(again.schema_version(), 3);
  auto p = again.pin(mx);
  ASSERT_TRUE(p && p->has_value());
  EXPECT_EQ((*p)->spki_sha256, "aa");
}

TEST_P(StoreTest, MtaStsPolicyCacheRoundTripsAndIsReplaced) {
  auto s = open();
  const std::string domain = "sts-" + std::to_string(::getpid()) + ".example.org";
  auto none = s.sts_policy(domain);
  ASSERT_TRUE(none) << none.error().detail;
  EXPECT_FALSE(none->has_value());
  const StsCacheEntry first{"id1", "version: STSv1\r\nmode: testing\r\nmx: mx.example.org\r\nmax_age: 60\r\n", 1000, 60};
  ASSERT_TRUE(s.set_sts_policy(domain, first));
  auto got = open().sts_policy(domain);  // another connection sees it
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->policy_id, "id1");
  EXPECT_EQ((*got)->body, first.body);
  EXPECT_EQ((*got)->fetched_at, 1000);
  EXPECT_EQ((*got)->max_age, 60);
  EXPECT_TRUE((*got)->valid_at(1059));
  EXPECT_FALSE((*got)->valid_at(1060));
  ASSERT_TRUE(s.set_sts_policy(domain, {"id2", "version: STSv1\nmode: none\nmax_age: 5\n", 2000, 5}));
  got = s.sts_policy(domain);
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->policy_id, "id2");
  EXPECT_EQ((*got)->fetched_at, 2000);
}

TEST_P(StoreTest, PinsRoundTripReplaceAndForget) {
  auto s = open();
  EXPECT_FALSE(s.pin(mx)->has_value());
  ASSERT_TRUE(s.set_pin(mx, "aa", 100));
  ASSERT_TRUE(s.touch_pin(mx, 150));
  auto p = *s.pin(mx);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->first_seen, 100);
  EXPECT_EQ(p->last_seen, 150);
  ASSERT_TRUE(s.set_pin(mx, "bb", 200));  // rollover: the new key replaces the old one
  p = *s.pin(mx);
  EXPECT_EQ(p->spki_sha256, "bb");
  EXPECT_EQ(p->first_seen, 200);
  const PeerKey imap{"mx.example.org", 143, "imap"};  // another port/protocol is another pin
  ASSERT_TRUE(s.set_pin(imap, "cc", 300));
  ASSERT_EQ(s.pins()->size(), 2u);
  EXPECT_TRUE(*s.forget_pin(mx));
  EXPECT_FALSE(*s.forget_pin(mx));
  ASSERT_EQ(s.pins()->size(), 1u);
  EXPECT_EQ(s.pins()->front().first, imap);
}

TEST_P(StoreTest, MemoryKeepsTheLastDateOfEachCapability) {
  auto s = open();
  const PeerKey peer{"memory.example.org", 25, "smtp"};
  EXPECT_FALSE(s.memory(peer)->has_value());
  ASSERT_TRUE(s.remember(peer, {.starttls_offered = true, .tls_completed = true, .at = 1000}));
  ASSERT_TRUE(s.remember(peer, {.starttls_offered = false, .tls_completed = false, .at = 2000}));
  auto m = *s.memory(peer);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->last_starttls, 1000);  // not erased by the contact without STARTTLS
  EXPECT_EQ(m->last_tls, 1000);
  EXPECT_EQ(m->last_seen, 2000);
  ASSERT_TRUE(s.remember(peer, {.starttls_offered = true, .tls_completed = false, .at = 3000}));
  m = *s.memory(peer);
  EXPECT_EQ(m->last_starttls, 3000);
  EXPECT_EQ(m->last_tls, 1000);
}

TEST_P(StoreTest, OutcomesByDomainAndTime) {
  auto s = open();
  const std::string domain = "outcomes-" + std::to_string(::getpid()) + ".example";
  ASSERT_TRUE(s.record({.at = 10, .policy_domain = domain, .policy_type = "tlsa", .mx_host = "mx1", .address = "192.0.2.1",
                        .success = true, .result_type = std::nullopt, .detail = ""}));
  ASSERT_TRUE(s.record({.at = 20, .policy_domain = domain, .policy_type = "tlsa", .mx_host = "mx1", .address = "192.0.2.1",
                        .success = false, .result_type = "tlsa-invalid", .detail = "no record matched",
                        .sending_address = "198.51.100.7", .policy_strings = {"3 1 1 ab12", "2 0 1 cd34"}}));
  ASSERT_TRUE(s.record({.at = 30, .policy_domain = "other.example", .policy_type = "no-policy-found", .mx_host = "mx",
                        .address = "", .success = true, .result_type = std::nullopt, .detail = ""}));
  auto rows = *s.outcomes(domain, 0, 25);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].success);
  EXPECT_FALSE(rows[1].success);
  EXPECT_EQ(rows[1].result_type, "tlsa-invalid");
  EXPECT_EQ(rows[0].sending_address, "");
  EXPECT_TRUE(rows[0].policy_strings.empty());
  EXPECT_EQ(rows[1].sending_address, "198.51.100.7");
  EXPECT_EQ(rows[1].policy_strings, (std::vector<std::string>{"3 1 1 ab12", "2 0 1 cd34"}));
  EXPECT_EQ(s.outcomes(domain, 15, 25)->size(), 1u);
}

// Two processes, 1 000 outcomes each, at the same time, into one store: all 2 000 are there.
TEST_P(StoreTest, ConcurrentWritersLoseNothing) {
  const std::string domain = "concurrent-" + std::to_string(::getpid()) + ".example";
  (void)open();  // migrated before the writers start, like any second process
  constexpr int per_writer = 1000;
  pid_t children[2];
  for (int w = 0; w < 2; ++w) {
    children[w] = ::fork();
    ASSERT_GE(children[w], 0);
    if (children[w] == 0) {
      auto s = Store::open(spec_);
      if (!s) ::_exit(3);
      for (int i = 0; i < per_writer; ++i) {
        if (!s->record({.at = w * per_writer + i, .policy_domain = domain, .policy_type = "sts", .mx_host = "mx",
                        .address = "", .success = true, .result_type = std::nullopt, .detail = ""})) {
          ::_exit(4);
        }
      }
      ::_exit(0);
    }
  }
  for (pid_t child : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer exit status " << status;
  }
  auto s = open();
  auto rows = *s.outcomes(domain, 0, 2 * per_writer);
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(2 * per_writer));
  for (int i = 0; i < 2 * per_writer; ++i) EXPECT_EQ(rows[static_cast<std::size_t>(i)].at, i);
}

TEST(Store, UnopenableStoreIsAClearError) {
  auto s = Store::open("/nonexistent-dir/sub/ostls.db");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::Store);
  auto pg = Store::open("postgresql://127.0.0.1:1/nothing?connect_timeout=2");
  ASSERT_FALSE(pg);
  EXPECT_NE(pg.error().detail.find("PostgreSQL"), std::string::npos) << pg.error().detail;
}

// A store written by the previous schema (version 1: outcomes without sending_address and
// policy_string) is migrated on open and keeps its outcomes (TLS-RPT, RFC 8460 §4.4).
TEST(Store, MigratesAVersion1StoreKeepingItsOutcomes) {
  const auto dir = std::filesystem::temp_directory_path() / ("ostls-store-v1-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = (dir / "ostls.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* v1 =
      "CREATE TABLE ostls_schema (version INTEGER NOT NULL); INSERT INTO ostls_schema VALUES (1);"
      "CREATE TABLE pins (host TEXT NOT NULL, port INTEGER NOT NULL, protocol TEXT NOT NULL, spki_sha256 TEXT NOT NULL,"
      " first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, PRIMARY KEY (host, port, protocol));"
      "CREATE TABLE memory (host TEXT NOT NULL, port INTEGER NOT NULL, protocol TEXT NOT NULL, last_starttls BIGINT,"
      " last_tls BIGINT, last_seen BIGINT NOT NULL, PRIMARY KEY (host, port, protocol));"
      "CREATE TABLE outcomes (at BIGINT NOT NULL, policy_domain TEXT NOT NULL, policy_type TEXT NOT NULL,"
      " mx_host TEXT NOT NULL, address TEXT NOT NULL, success INTEGER NOT NULL, result_type TEXT, detail TEXT NOT NULL);"
      "INSERT INTO outcomes VALUES (5, 'example.org', 'no-policy-found', 'mx', '192.0.2.1', 0, 'certificate-expired',"
      " 'expired');";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  {
    auto s = Store::open(path);
    ASSERT_TRUE(s) << s.error().detail;
    EXPECT_EQ(s->schema_version(), 3);
    auto rows = s->outcomes("example.org", 0, 10);
    ASSERT_TRUE(rows && rows->size() == 1u);
    EXPECT_EQ((*rows)[0].result_type, "certificate-expired");
    EXPECT_EQ((*rows)[0].sending_address, "");
    EXPECT_TRUE((*rows)[0].policy_strings.empty());
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Engines, StoreTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace ostls::store
