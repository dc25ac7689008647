import type { LaravelConfig } from "../config/schema.ts";

/**
 * `Str::slug($title, '_')`: what Laravel's default prefixes are made of. Letters are folded to
 * ASCII by dropping their accents (Laravel transliterates further, for scripts without Latin
 * letters; set CACHE_PREFIX and REDIS_PREFIX for such app names).
 */
export function laravelSlug(title: string): string {
  return title
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .replace(/-+/g, "_")
    .replaceAll("@", "_at_")
    .toLowerCase()
    .replace(/[^_\p{L}\p{N}\s]+/gu, "")
    .replace(/[_\s]+/gu, "_")
    .replace(/^_+|_+$/g, "");
}

/** `config('cache.prefix')`: `CACHE_PREFIX`, else the app name's slug and `_cache_`. */
export function cachePrefix(laravel: LaravelConfig): string {
  return laravel.cache.prefix ?? `${laravelSlug(laravel.app_name)}_cache_`;
}

/** `config('database.redis.options.prefix')`: `REDIS_PREFIX`, else the app name's slug and `_database_`. */
export function redisPrefix(laravel: LaravelConfig): string {
  return laravel.redis_prefix ?? `${laravelSlug(laravel.app_name)}_database_`;
}

/** The cache store `Cache::` uses: `CACHE_STORE` (Laravel 11+), else `CACHE_DRIVER`. */
export function cacheStore(laravel: LaravelConfig): string | null {
  return laravel.cache.store ?? laravel.cache.driver;
}
