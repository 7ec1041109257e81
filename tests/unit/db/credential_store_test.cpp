// SqliteCredentialStore on a real database file.
#include "db/credential_store.h"

#include <gtest/gtest.h>

#include "db/database.h"
#include "tests/unit/db/test_support.h"

namespace lwgate::db {
namespace credential_store_test {

std::vector<std::uint8_t> key(std::initializer_list<std::uint8_t> b) {
  return b;
}

class CredentialStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = openDatabase(dir.file("c.db"));
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    db.emplace(std::move(*opened));
    auto s = SqliteCredentialStore::create(db->connection());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store = std::move(*s);
  }

  testing::TempDir dir;
  std::optional<Database> db;
  std::unique_ptr<SqliteCredentialStore> store;
};

TEST_F(CredentialStoreTest, PutFindListRemove) {
  const auto k1 = key({0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
                       0xdd, 0xee, 0xff});
  auto added = store->put("id-1", k1, "dev-1", 1000);
  ASSERT_TRUE(added.ok()) << added.error().message;
  EXPECT_FALSE(*added);
  // A binary identity (no zero byte) is a different row.
  const std::string binary("\x01\xfe\x7f", 3);
  ASSERT_TRUE(store->put(binary, key({1}), "dev-2", 2000).ok());

  auto found = store->find("id-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->key, k1);
  EXPECT_EQ((*found)->endpoint, "dev-1");
  EXPECT_EQ(**store->endpointForIdentity(binary), "dev-2");
  EXPECT_FALSE(store->find("nobody")->has_value());
  EXPECT_FALSE(store->endpointForIdentity("nobody")->has_value());
  EXPECT_TRUE(*store->endpointHasPsk("dev-1"));
  EXPECT_FALSE(*store->endpointHasPsk("dev-3"));
  EXPECT_EQ(*store->count(), 2);

  auto all = store->list("", 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].identity, "id-1");
  EXPECT_EQ((*all)[0].endpoint, "dev-1");
  EXPECT_TRUE((*all)[0].keySet);
  EXPECT_EQ((*all)[0].createdAtMs, 1000);
  EXPECT_EQ((*all)[1].identity, binary);
  EXPECT_EQ(store->list("dev-2", 100)->size(), 1u);
  EXPECT_EQ(store->list("", 1)->size(), 1u);
  EXPECT_TRUE(store->list("dev-9", 100)->empty());

  EXPECT_TRUE(*store->remove("id-1"));
  EXPECT_FALSE(*store->remove("id-1"));
  EXPECT_FALSE(*store->endpointHasPsk("dev-1"));
  EXPECT_EQ(*store->count(), 1);
}

TEST_F(CredentialStoreTest, PutReplacesKeyAndEndpointKeepingTheCreationTime) {
  ASSERT_TRUE(store->put("id", key({1, 2, 3}), "old-name", 1000).ok());
  auto replaced = store->put("id", key({9, 9}), "new-name", 5000);
  ASSERT_TRUE(replaced.ok());
  EXPECT_TRUE(*replaced);
  EXPECT_EQ((*store->find("id"))->key, key({9, 9}));
  auto info = (*store->list("", 10))[0];
  EXPECT_EQ(info.endpoint, "new-name");
  EXPECT_EQ(info.createdAtMs, 1000);
  EXPECT_EQ(info.updatedAtMs, 5000);
  EXPECT_FALSE(*store->endpointHasPsk("old-name"));
}

TEST_F(CredentialStoreTest, BadInputIsRefusedAndNothingStored) {
  const std::vector<std::uint8_t> longKey(core::kMaxPskKey + 1, 7);
  struct Case {
    std::string identity;
    std::vector<std::uint8_t> key;
    std::string endpoint;
  };
  for (const Case& c :
       {Case{"", key({1}), "ep"}, Case{std::string("a\0b", 3), key({1}), "ep"},
        Case{std::string(core::kMaxPskIdentity + 1, 'i'), key({1}), "ep"}, Case{"id", {}, "ep"},
        Case{"id", longKey, "ep"}, Case{"id", key({1}), ""}, Case{"id", key({1}), "bad\nname"}}) {
    auto r = store->put(c.identity, c.key, c.endpoint, 1);
    ASSERT_FALSE(r.ok()) << c.identity << " " << c.endpoint;
    EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
  }
  EXPECT_EQ(*store->count(), 0);
}

TEST_F(CredentialStoreTest, TheKeyDoesNotLingerInTheStatementOrTheWrongPlaces) {
  // A key made of a marker that would stand out anywhere it leaked to.
  const std::vector<std::uint8_t> marker{'S', 'E', 'C', 'R', 'E', 'T', '-', 'K', 'E', 'Y'};
  ASSERT_TRUE(store->put("id", marker, "ep", 1).ok());
  auto listed = store->list("", 10);
  ASSERT_TRUE(listed.ok());
  for (const auto& info : *listed) {
    EXPECT_EQ(info.identity.find("SECRET"), std::string::npos);
    EXPECT_EQ(info.endpoint.find("SECRET"), std::string::npos);
  }
  // The file itself is private.
  EXPECT_EQ(testing::fileMode(dir.file("c.db")), 0600u);
}

TEST_F(CredentialStoreTest, UpstreamPsksPerDeviceAndGatewayWide) {
  const std::string up = "coaps://up.example.net";
  // A device's key without an identity: the upstream endpoint name is used.
  auto added = store->putUpstream(up, "meter-1", std::nullopt, key({1, 2, 3}), 1000);
  ASSERT_TRUE(added.ok()) << added.error().message;
  EXPECT_FALSE(*added);
  ASSERT_TRUE(store->putUpstream(up, "meter-2", std::string("id-2"), key({4}), 2000).ok());
  ASSERT_TRUE(store->putUpstream(up, "", std::string("site-7"), key({5, 6}), 3000).ok());
  ASSERT_TRUE(store->putUpstream("coaps://other", "meter-1", std::nullopt, key({7}), 4000).ok());

  auto found = store->findUpstream(up, "meter-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_FALSE((*found)->identity.has_value());
  EXPECT_EQ((*found)->key, key({1, 2, 3}));
  EXPECT_EQ(*(*store->findUpstream(up, ""))->identity, "site-7");
  EXPECT_EQ((*store->findUpstream("coaps://other", "meter-1"))->key, key({7}));
  EXPECT_FALSE(store->findUpstream(up, "meter-9")->has_value());
  EXPECT_FALSE(store->findUpstream("coaps://nobody", "")->has_value());
  EXPECT_EQ(*store->countUpstream(up), 3);
  EXPECT_EQ(*store->countUpstream(""), 4);
  // Separate from the devices' own PSKs.
  EXPECT_EQ(*store->count(), 0);

  auto listed = store->listUpstream(up, 100);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].endpoint, "");  // the gateway-wide one sorts first
  EXPECT_EQ(*(*listed)[0].identity, "site-7");
  EXPECT_EQ((*listed)[1].endpoint, "meter-1");
  EXPECT_FALSE((*listed)[1].identity.has_value());
  EXPECT_TRUE((*listed)[1].keySet);
  EXPECT_EQ((*listed)[1].createdAtMs, 1000);
  EXPECT_EQ(store->listUpstream("", 100)->size(), 4u);
  EXPECT_EQ(store->listUpstream("", 2)->size(), 2u);

  // Replacing keeps the creation time; the identity may go back to the default.
  auto replaced = store->putUpstream(up, "meter-2", std::nullopt, key({9}), 9000);
  ASSERT_TRUE(replaced.ok());
  EXPECT_TRUE(*replaced);
  auto info = (*store->listUpstream(up, 100))[2];
  EXPECT_EQ(info.endpoint, "meter-2");
  EXPECT_FALSE(info.identity.has_value());
  EXPECT_EQ(info.createdAtMs, 2000);
  EXPECT_EQ(info.updatedAtMs, 9000);

  EXPECT_TRUE(*store->removeUpstream(up, "meter-2"));
  EXPECT_FALSE(*store->removeUpstream(up, "meter-2"));
  EXPECT_EQ(*store->countUpstream(up), 2);
}

TEST_F(CredentialStoreTest, BadUpstreamPsksAreRefusedAndNothingIsStored) {
  const std::vector<std::uint8_t> longKey(core::kMaxPskKey + 1, 1);
  struct Case {
    std::string server;
    std::string endpoint;
    std::optional<std::string> identity;
    std::vector<std::uint8_t> key;
    const char* why;
  };
  for (const Case& c : {
           Case{"", "ep", std::nullopt, key({1}), "[[upstream]] uri"},
           Case{"coaps://h", "", std::nullopt, key({1}), "needs an identity"},
           Case{"coaps://h", "bad\x01name", std::nullopt, key({1}), "control character"},
           Case{"coaps://h", "ep", std::string(), key({1}), "1 to 128 bytes"},
           Case{"coaps://h", "ep", std::string("a\0b", 3), key({1}), "zero byte"},
           Case{"coaps://h", "ep", std::nullopt, {}, "a PSK key has 1 to 64 bytes"},
           Case{"coaps://h", "ep", std::nullopt, longKey, "a PSK key has 1 to 64 bytes"},
       }) {
    auto r = store->putUpstream(c.server, c.endpoint, c.identity, c.key, 1);
    ASSERT_FALSE(r.ok()) << c.why;
    EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
    EXPECT_NE(r.error().message.find(c.why), std::string::npos) << r.error().message;
  }
  EXPECT_EQ(*store->countUpstream(""), 0);
}

}  // namespace credential_store_test
}  // namespace lwgate::db
