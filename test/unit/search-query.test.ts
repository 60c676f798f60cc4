import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compileQuery, formatQuery, parseQuery, SqlParams, tokenize, typePrefix } from "../../src/search/query.js";
import { DomainError } from "../../src/errors.js";

const p = (q: string) => formatQuery(parseQuery(q));

function rejects(q: string, message: RegExp) {
  assert.throws(
    () => parseQuery(q),
    (err: unknown) => {
      assert.ok(err instanceof DomainError, "a DomainError");
      assert.equal(err.code, "BAD_REQUEST");
      assert.match(err.message, message);
      return true;
    },
  );
}

describe("search query language: parsing", () => {
  it("plain words become text terms joined by implicit AND", () => {
    assert.equal(p("guava"), "text:guava");
    assert.equal(p("spring boot"), "(AND text:spring text:boot)");
  });

  it("recognises the four field prefixes, case-insensitively, and keeps other colons as text", () => {
    assert.equal(p("name:guava"), 'name:"guava"');
    assert.equal(p("VERSION:3.2"), 'version:"3.2"');
    assert.equal(p("repo:maven-central type:maven"), '(AND repo:"maven-central" type:"maven")');
    assert.equal(p("com.example:lib"), "text:com.example:lib");
    assert.equal(p("group:foo"), "text:group:foo");
  });

  it("AND binds tighter than OR", () => {
    assert.equal(p("a OR b AND c"), "(OR text:a (AND text:b text:c))");
    assert.equal(p("a AND b OR c"), "(OR (AND text:a text:b) text:c)");
    assert.equal(p("a b OR c d"), "(OR (AND text:a text:b) (AND text:c text:d))");
  });

  it("parentheses override precedence and nest", () => {
    assert.equal(p("name:pydantic AND (version:2.12 OR version:2.11)"), '(AND name:"pydantic" (OR version:"2.12" version:"2.11"))');
    assert.equal(p("(a OR b) AND c"), "(AND (OR text:a text:b) text:c)");
    assert.equal(p("((a))"), "text:a");
    assert.equal(p("a AND (b OR (c AND d))"), "(AND text:a (OR text:b (AND text:c text:d)))");
  });

  it("flattens chains of the same operator", () => {
    assert.equal(p("a OR b OR c"), "(OR text:a text:b text:c)");
    assert.equal(p("a AND b AND c"), "(AND text:a text:b text:c)");
  });

  it("quoted values keep spaces, operators and parentheses literally", () => {
    assert.equal(p('"spring boot"'), 'text:"spring boot"');
    assert.equal(p('name:"spring boot" OR "a OR (b)"'), '(OR name:"spring boot" text:"a OR (b)")');
    assert.equal(p('name:"say \\"hi\\""'), 'name:"say \\"hi\\""');
    assert.equal(p('"AND"'), 'text:"AND"');
  });

  it("lower-case and/or are ordinary words", () => {
    assert.equal(p("rock and roll"), "(AND text:rock text:and text:roll)");
  });

  it("records the position of each term", () => {
    const toks = tokenize('name:x  (version:"1 2")');
    assert.deepEqual(
      toks.map((t) => [t.t, t.pos]),
      [
        ["field", 0],
        ["lparen", 8],
        ["field", 9],
        ["rparen", 22],
        ["eof", 23],
      ],
    );
  });
});

describe("search query language: malformed input is a 400 that says where", () => {
  it("unbalanced parentheses", () => {
    rejects("(a OR b", /missing '\)' to close '\(' at position 1.* at position 8/);
    rejects("a OR b)", /unmatched '\)' at position 7/);
    rejects("()", /empty parentheses at position 1/);
  });

  it("dangling and doubled operators", () => {
    rejects("name:guava AND", /expected a term after 'AND'.*end of query at position 15/);
    rejects("a OR", /expected a term after 'OR'/);
    rejects("OR a", /unexpected 'OR', expected a term at position 1/);
    rejects("a AND OR b", /expected a term after 'AND' \(at position 3\) but found 'OR' at position 7/);
    rejects("a (OR b)", /expected a term at position 4/);
  });

  it("missing field values and unterminated quotes", () => {
    rejects("name:", /missing value after 'name:' at position 1/);
    rejects("a version: b", /missing value after 'version:' at position 3/);
    rejects('name:"guava', /unterminated quoted string starting at position 6/);
    rejects('"abc', /unterminated quoted string starting at position 1/);
    rejects('a ""', /empty quoted string at position 3/);
  });

  it("empty and oversized queries", () => {
    rejects("   ", /empty/);
    rejects("x".repeat(1001), /longer than 1000/);
    rejects(Array.from({ length: 40 }, (_, i) => "t" + i).join(" "), /more than 32 terms/);
  });
});

describe("search query language: SQL compilation", () => {
  it("keeps every value out of the SQL text", () => {
    const params = new SqlParams();
    const evil = `x'; DROP TABLE artifacts; --`;
    const c = compileQuery(parseQuery(`name:"${evil}" OR repo:"${evil}" OR "${evil}"`), params);
    assert.ok(!c.where.includes("DROP"), c.where);
    assert.ok(params.values.some((v) => String(v).includes("DROP TABLE")));
  });

  it("maps fields to their documented match types", () => {
    const params = new SqlParams();
    const c = compileQuery(parseQuery("name:spring_boot AND version:3.2 AND repo:maven-central AND type:maven-proxy"), params);
    assert.equal(c.where, `("name" ILIKE $1 AND "version" ILIKE $2 AND "repo_name" = $3 AND "repo_type" = ANY($4::text[]))`);
    assert.deepEqual(params.values, ["%spring\\_boot%", "%3.2%", "maven-central", ["maven", "maven-proxy", "maven-group"]]);
  });

  it("type: expands to the supported types it prefixes (the registry's), else the exact format's three", () => {
    const types = ["maven", "maven-proxy", "maven-group", "npm", "npm-proxy", "npm-group"];
    let params = new SqlParams();
    compileQuery(parseQuery("type:mav"), params, types);
    assert.deepEqual(params.values, [["maven", "maven-proxy", "maven-group"]]);
    params = new SqlParams();
    compileQuery(parseQuery("type:helm"), params, types);
    assert.deepEqual(params.values, [[]], "a type no registered format serves matches nothing");
    params = new SqlParams();
    compileQuery(parseQuery("type:npm-group"), params);
    assert.deepEqual(params.values, [["npm", "npm-proxy", "npm-group"]]);
  });

  it("type: strips -proxy and -group", () => {
    assert.equal(typePrefix("npm-group"), "npm");
    assert.equal(typePrefix("PyPI-Proxy"), "pypi");
    assert.equal(typePrefix("docker"), "docker");
  });

  it("plain text becomes a prefix tsquery OR a trigram substring; quoted text a phrase", () => {
    const params = new SqlParams();
    const c = compileQuery(parseQuery('spring-boot-star "guava jre"'), params);
    assert.equal(
      c.where,
      `(("search_tsv" @@ to_tsquery('simple', $2) OR "name" ILIKE $1) AND ("search_tsv" @@ phraseto_tsquery('simple', $4) OR "name" ILIKE $3))`,
    );
    assert.deepEqual(params.values, ["%spring-boot-star%", "spring:* & boot:* & star:*", "%guava jre%", "guava jre"]);
    assert.deepEqual(c.textTerms, ["spring-boot-star", "guava jre"]);
  });

  it("text without letters or digits only uses the substring match", () => {
    const params = new SqlParams();
    assert.equal(compileQuery(parseQuery("%%%"), params).where, `("name" ILIKE $1)`);
    assert.deepEqual(params.values, ["%\\%\\%\\%%"]);
  });

  it("values shorter than a trigram match on an unindexed expression", () => {
    const params = new SqlParams();
    assert.equal(compileQuery(parseQuery("version:2. AND name:io"), params).where, `(("version" || '') ILIKE $1 AND ("name" || '') ILIKE $2)`);
    assert.equal(compileQuery(parseQuery("version:2.1"), new SqlParams()).where, `"version" ILIKE $1`);
  });
});
