CREATE TABLE `leases` (
	`id` integer PRIMARY KEY NOT NULL,
	`ttl` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `leases_expiry` ON `leases` (`expires_at`);--> statement-breakpoint
CREATE TABLE `live_keys` (
	`key` blob PRIMARY KEY NOT NULL,
	`create_revision` integer NOT NULL,
	`mod_revision` integer NOT NULL,
	`version` integer NOT NULL,
	`lease` integer NOT NULL,
	`value` blob NOT NULL
);
--> statement-breakpoint
CREATE INDEX `live_keys_lease` ON `live_keys` (`lease`);--> statement-breakpoint
CREATE TABLE `revision_log` (
	`revision` integer NOT NULL,
	`sub` integer NOT NULL,
	`key` blob NOT NULL,
	`deleted` integer NOT NULL,
	`create_revision` integer NOT NULL,
	`version` integer NOT NULL,
	`lease` integer NOT NULL,
	`value` blob NOT NULL,
	PRIMARY KEY(`revision`, `sub`)
);
--> statement-breakpoint
CREATE INDEX `revision_log_key` ON `revision_log` (`key`,`revision`);--> statement-breakpoint
CREATE TABLE `revision_times` (
	`revision` integer PRIMARY KEY NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `store_state` (
	`id` integer PRIMARY KEY NOT NULL,
	`revision` integer NOT NULL,
	`compact_revision` integer NOT NULL
);
