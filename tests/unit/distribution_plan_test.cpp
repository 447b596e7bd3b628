// distribution_plan_test.cpp — planning a distribution's contacts: dedupe keeps the first, counts add up, rendering, link tokens.
#include "api/distribution_plan.hpp"

#include <gtest/gtest.h>

#include <string>

#include "wagate/crypto.hpp"
#include "wagate/time.hpp"

namespace wagate::api {
namespace {

const long long kNow = *time::parse_iso8601("2024-05-01T12:00:00Z");

DistributionRequest parse(const std::string& fields, const std::string& contacts) {
  return parse_distribution_request(R"({"name": "n", )" + fields + R"(, "contacts": )" + contacts + "}", kNow);
}

PlanInputs inputs(const std::set<std::string, std::less<>>* opted_out = nullptr) {
  PlanInputs in;
  in.default_country_code = "351";
  in.opted_out = opted_out;
  in.link_base = "https://gw.example";
  return in;
}

TEST(DistributionPlan, DuplicatesKeepTheFirstOccurrenceAndCountsAddUp) {
  const std::set<std::string, std::less<>> opted_out = {"+351912000003"};
  const DistributionRequest request = parse(
      R"("body": "Hi {{name}}, code {{code}}")",
      R"([{"phone": "+351 912 000 001", "name": "Ana", "variables": {"code": "A"}},
          {"phone": "00351912000001", "name": "Other", "variables": {"code": "B"}},
          {"phone": "912000001", "name": "Third", "variables": {"code": "C"}},
          {"phone": "12", "name": "Short"},
          {"phone": "+351912000003", "name": "Stop", "variables": {"code": "S"}},
          {"phone": "+351912000004", "name": "Bea"},
          {"phone": "+351912000005", "name": "Rui", "variables": {"code": "R"}}])");
  const Plan plan = plan_distribution(request, inputs(&opted_out));
  EXPECT_EQ(plan.total(), request.contacts.size());
  ASSERT_EQ(plan.recipients.size(), 2U);
  EXPECT_EQ(plan.duplicates, 2U);
  EXPECT_EQ(plan.opted_out, 1U);
  ASSERT_EQ(plan.invalid.size(), 2U);

  EXPECT_EQ(plan.recipients[0].phone, "+351912000001");
  EXPECT_EQ(plan.recipients[0].name, "Ana");
  EXPECT_EQ(plan.recipients[0].body, "Hi Ana, code A");
  EXPECT_EQ(plan.recipients[0].index, 0U);
  EXPECT_EQ(plan.recipients[1].phone, "+351912000005");
  EXPECT_EQ(plan.recipients[1].body, "Hi Rui, code R");

  EXPECT_EQ(plan.invalid[0].index, 3U);
  EXPECT_EQ(plan.invalid[0].phone, "12");
  EXPECT_NE(plan.invalid[0].error.find("phone is too short"), std::string::npos) << plan.invalid[0].error;
  EXPECT_EQ(plan.invalid[1].index, 5U);
  EXPECT_EQ(plan.invalid[1].error, "no variable for {{code}}");
}

TEST(DistributionPlan, NameIsRequiredOnlyWhenTheMessageUsesIt) {
  const Plan with = plan_distribution(parse(R"("body": "Hi {{name}}")", R"([{"phone": "+351912000001"}])"), inputs());
  ASSERT_EQ(with.invalid.size(), 1U);
  EXPECT_EQ(with.invalid[0].error, "no variable for {{name}}");
  const Plan without = plan_distribution(parse(R"("body": "Hi")", R"([{"phone": "+351912000001"}])"), inputs());
  EXPECT_EQ(without.recipients.size(), 1U);
}

TEST(DistributionPlan, LinksAreRenderedPerRecipientWithTheirOwnToken) {
  const std::string sid = "HX" + std::string(32, 'b');
  const DistributionRequest request =
      parse(R"("content_sid": ")" + sid +
                R"(", "content_variables": {"1": "{{name}}", "2": "{{link}}"}, "link": "https://survey.example/s/42?r={{ref}}")",
            R"([{"phone": "+351912000001", "name": "Ana", "variables": {"ref": "a1"}},
                {"phone": "+351912000002", "name": "Bea", "variables": {"ref": "b2"}},
                {"phone": "+351912000003", "name": "Cid"}])");
  const Plan plan = plan_distribution(request, inputs());
  ASSERT_EQ(plan.recipients.size(), 2U);
  ASSERT_EQ(plan.invalid.size(), 1U);
  EXPECT_EQ(plan.invalid[0].error, "no variable for {{ref}}");  // the link's placeholder counts too
  for (const PlannedRecipient& r : plan.recipients) {
    ASSERT_TRUE(r.link_token);
    EXPECT_EQ(r.link_token->size(), kLinkTokenChars);
    const std::optional<std::string> bytes = crypto::unbase64url(*r.link_token);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(bytes->size(), kLinkTokenBytes);
    EXPECT_FALSE(r.body);
  }
  EXPECT_NE(plan.recipients[0].link_token, plan.recipients[1].link_token);
  EXPECT_EQ(plan.recipients[0].target_url, "https://survey.example/s/42?r=a1");
  EXPECT_EQ(plan.recipients[1].target_url, "https://survey.example/s/42?r=b2");
  EXPECT_EQ(plan.recipients[0].content_variables,
            R"({"1":"Ana","2":"https://gw.example/l/)" + *plan.recipients[0].link_token + R"("})");
  // The recipient keeps the contact's own variables, not wagate's name and link.
  EXPECT_EQ(plan.recipients[0].variables.size(), 1U);
}

TEST(DistributionPlan, ABatchCountsPhonesAlreadyInTheDistributionAsDuplicates) {
  const std::set<std::string, std::less<>> existing = {"+351912000001"};
  const DistributionRequest request = parse(R"("body": "Hi {{name}}")",
                                            R"([{"phone": "912000001", "name": "Again"},
                                                {"phone": "+351912000002", "name": "Bea"},
                                                {"phone": "+351912000002", "name": "Twice"},
                                                {"phone": "+351912000003"}])");
  PlanInputs in = inputs();
  in.existing = &existing;
  const Plan plan = plan_distribution(request, in);
  EXPECT_EQ(plan.total(), 4U);
  EXPECT_EQ(plan.duplicates, 2U);
  ASSERT_EQ(plan.recipients.size(), 1U);
  EXPECT_EQ(plan.recipients[0].phone, "+351912000002");
  EXPECT_EQ(plan.recipients[0].index, 1U);
  ASSERT_EQ(plan.invalid.size(), 1U);
  EXPECT_EQ(plan.invalid[0].index, 3U);
}

TEST(DistributionPlan, UntrackedLinksRenderTheTargetItselfAndMakeNoToken) {
  const DistributionRequest request = parse(R"("body": "Go {{link}}", "link": "https://x.example/s?r={{ref}}")",
                                            R"([{"phone": "+351912000001", "variables": {"ref": "a1"}}])");
  PlanInputs in = inputs();
  in.track_links = false;
  const Plan plan = plan_distribution(request, in);
  ASSERT_EQ(plan.recipients.size(), 1U);
  EXPECT_FALSE(plan.recipients[0].link_token);
  EXPECT_EQ(plan.recipients[0].body, "Go https://x.example/s?r=a1");
}

TEST(DistributionPlan, ARenderedLinkWithABlankIsInvalid) {
  const Plan plan = plan_distribution(parse(R"("body": "{{link}}", "link": "https://x.example/{{ref}}")",
                                            R"([{"phone": "+351912000001", "variables": {"ref": "a b"}}])"),
                                      inputs());
  ASSERT_EQ(plan.invalid.size(), 1U);
  EXPECT_NE(plan.invalid[0].error.find("blank"), std::string::npos);
}

TEST(DistributionPlan, ARenderedBodyPastTheLimitIsInvalid) {
  const Plan plan = plan_distribution(
      parse(R"("body": "{{v}}{{v}}")", R"([{"phone": "+351912000001", "variables": {"v": ")" +
                                            std::string(900, 'x') + R"("}}, {"phone": "+351912000002",
                                            "variables": {"v": "ok"}}])"),
      inputs());
  ASSERT_EQ(plan.invalid.size(), 1U);
  EXPECT_EQ(plan.invalid[0].index, 0U);
  EXPECT_NE(plan.invalid[0].error.find("1600"), std::string::npos);
  ASSERT_EQ(plan.recipients.size(), 1U);
  EXPECT_EQ(plan.recipients[0].body, "okok");
}

TEST(DistributionPlan, ContactPhonesAreTheNormalisedOnesOnce) {
  const DistributionRequest request =
      parse(R"("body": "Hi")", R"([{"phone": "912000001"}, {"phone": "+351912000001"}, {"phone": "x"}])");
  EXPECT_EQ(contact_phones(request, "351"), (std::vector<std::string>{"+351912000001"}));
}

}  // namespace
}  // namespace wagate::api
