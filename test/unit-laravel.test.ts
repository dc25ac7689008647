import { describe, expect, test } from "bun:test";
import { laravelSlug } from "../src/laravel/names.ts";
import { unserializeScalar } from "../src/laravel/php-serialize.ts";

describe("Laravel's names and encodings", () => {
  test("Str::slug($name, '_'), as Laravel derives its cache and Redis prefixes", () => {
    expect(laravelSlug("Laravel")).toBe("laravel");
    expect(laravelSlug("Acme Shop")).toBe("acme_shop");
    expect(laravelSlug("my-app")).toBe("my_app");
    expect(laravelSlug("  Café  Déjà-Vu! ")).toBe("cafe_deja_vu");
    expect(laravelSlug("ops@acme")).toBe("ops_at_acme");
    expect(laravelSlug("__x__")).toBe("x");
  });

  test("PHP serialize() scalars as the cache stores write them", () => {
    expect(unserializeScalar("i:1764640000;")).toBe(1764640000);
    expect(unserializeScalar("d:1764640000.5;")).toBe(1764640000.5);
    expect(unserializeScalar('s:10:"1764640000";')).toBe("1764640000");
    expect(unserializeScalar("b:1;")).toBe(true);
    expect(unserializeScalar("N;")).toBe(null);
    expect(unserializeScalar('a:1:{i:0;i:1;}')).toBe('a:1:{i:0;i:1;}');
  });
});
