// doctor_command.cpp — wagate-admin doctor: explains why a webhook's X-Twilio-Signature did not match.
#include <fstream>
#include <ios>
#include <iostream>
#include <iterator>
#include <optional>

#include "commands.hpp"
#include "flags.hpp"
#include "wagate/error.hpp"
#include "wagate/form.hpp"
#include "wagate/pg.hpp"
#include "wagate/signature_doctor.hpp"
#include "wagate/tenants.hpp"
#include "wagate/webhook.hpp"

namespace wagate::admin {
namespace {

constexpr const char* kUsage =
    "usage: wagate-admin doctor --url URL --signature SIG (--body-file FILE | --body STRING) [--account-sid AC...]\n"
    "Checks a webhook's X-Twilio-Signature against the tenant's current and previous auth tokens, over every URL\n"
    "wagate checks and over guesses at what a proxy changed (scheme, port, trailing slash), and says what matched\n"
    "or what is likely wrong. Tokens and signatures are never printed.\n"
    "  --url URL           the URL Twilio requested (Twilio's debugger), or the url= of wagate's webhook_rejected\n"
    "                      log line; for a JSON body it carries bodySHA256 in its query\n"
    "  --signature SIG     the X-Twilio-Signature header Twilio sent\n"
    "  --body-file FILE    the raw POST body, byte for byte ('-': standard input)\n"
    "  --body STRING       the same, on the command line\n"
    "  --account-sid AC..  the tenant (default: the body's AccountSid parameter)\n"
    "Exit status: 0 wagate accepts the signature, 1 it does not (the report says why), 2 a usage error, an\n"
    "unreadable body file or an AccountSid that is no tenant.\n";

int usage(const std::string& problem) {
  std::cerr << "wagate-admin doctor: " << problem << '\n' << kUsage;
  return kExitUsage;
}

// nullopt when the file cannot be read. Byte for byte: a newline an editor
// added is part of what is checked, and the report points it out.
std::optional<std::string> read_body(const std::string& path) {
  // A read error (a directory opens but does not read) surfaces as an
  // exception from the stream buffer, whatever the stream's flags say.
  try {
    if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string body(std::istreambuf_iterator<char>(in), {});
    if (in.bad()) return std::nullopt;
    return body;
  } catch (const std::ios_base::failure&) {
    return std::nullopt;
  }
}

}  // namespace

int doctor_command(const Globals& globals, std::span<const std::string> args) {
  std::string problem;
  const auto flags = parse_flags(args, problem);
  if (!flags) return usage(problem);
  if (problem = unknown_flag(*flags, {"url", "signature", "body-file", "body", "account-sid"}); !problem.empty()) {
    return usage(problem);
  }
  if (!flags->positional.empty()) return usage("unexpected argument '" + flags->positional.front() + "'");
  for (const char* required : {"url", "signature"}) {
    if (!flags->values.contains(required)) return usage(std::string("missing --") + required);
  }
  if (flags->values.contains("body-file") == flags->values.contains("body")) {
    return usage("give the body with exactly one of --body-file and --body");
  }

  signature_doctor::Request request;
  request.url = flags->values.at("url");
  request.signature = flags->values.at("signature");
  if (const auto file = flags->values.find("body-file"); file != flags->values.end()) {
    std::optional<std::string> body = read_body(file->second);
    if (!body) return usage("cannot read --body-file " + file->second);
    request.raw_body = std::move(*body);
  } else {
    request.raw_body = flags->values.at("body");
  }

  // Handlers find the tenant by the body's AccountSid; --account-sid is for
  // JSON bodies and for asking about another tenant on purpose.
  const form::ParseResult parsed = form::parse(request.raw_body);
  const std::optional<std::string_view> body_account = parsed.ok() ? parsed.params.first("AccountSid") : std::nullopt;
  std::string account_sid;
  if (const auto flag = flags->values.find("account-sid"); flag != flags->values.end()) {
    account_sid = flag->second;
    if (body_account && *body_account != account_sid) {
      std::cout << "note: the body's AccountSid is " << *body_account
                << "; wagate looks the tenant up by that one, not by --account-sid\n";
    }
  } else if (body_account && !body_account->empty()) {
    account_sid = std::string(*body_account);
  } else {
    return usage("the body has no AccountSid parameter: give --account-sid");
  }
  if (!tenants::valid_account_sid(account_sid)) {
    std::cerr << "wagate-admin doctor: '" << account_sid << "' is not an AccountSid (AC followed by 32 hex digits)\n";
    return kExitUsage;
  }

  const config::Config config = load_config(globals);
  request.public_base_url = config.str("public_base_url");
  pg::Connection db(config.str("pg_dsn"));
  const std::optional<tenants::Tenant> tenant =
      tenants::load_by_account_sid(db, webhook::master_key(config), account_sid);
  if (!tenant) {
    std::cerr << "wagate-admin doctor: no tenant has AccountSid " << account_sid
              << " ('wagate-admin tenant list' shows them)\n";
    return kExitUsage;
  }
  for (size_t i = 0; i < tenant->auth_tokens.size(); ++i) {
    request.tokens.push_back({i == 0 ? "current" : "previous", tenant->auth_tokens[i]});
  }

  const signature_doctor::Diagnosis diagnosis = signature_doctor::diagnose(request);
  std::cout << "tenant:         " << tenant->name << " (id " << tenant->id << ", AccountSid " << tenant->account_sid
            << ", tokens: " << (request.tokens.size() > 1 ? "current, previous" : "current") << ")\n"
            << signature_doctor::report(diagnosis);
  return diagnosis.accepted() ? 0 : 1;
}

}  // namespace wagate::admin
