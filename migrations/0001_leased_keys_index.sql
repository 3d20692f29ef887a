DROP INDEX `live_keys_lease`;--> statement-breakpoint
CREATE INDEX `live_keys_leased` ON `live_keys` (`lease`) WHERE "live_keys"."lease" <> 0;