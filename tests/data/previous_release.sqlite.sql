-- A database made by tapgift's release before migrations (981226a), dumped by sqlite3's iterdump.
-- Made by tests/data/make_previous_release.py. Facts: {"pending_hold": "48e0198ba3274a0fabba03955a9dc523", "pending_request": "1-3"}
BEGIN TRANSACTION;
CREATE TABLE accounts (
	id INTEGER NOT NULL, 
	ledger VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	allow_negative BOOLEAN NOT NULL, 
	credit_limit BIGINT NOT NULL, 
	debits_posted BIGINT NOT NULL, 
	credits_posted BIGINT NOT NULL, 
	debits_pending BIGINT NOT NULL, 
	credits_pending BIGINT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "accounts" VALUES(1,'CHF','revenue','outlet bar',1,0,0,1000,0,0,'2026-11-30 03:09:59.625636');
INSERT INTO "accounts" VALUES(2,'CHF','wallet','card 04A1B2C3D4',0,0,250,5000,500,0,'2026-11-30 03:09:59.659705');
INSERT INTO "accounts" VALUES(3,'CHF','cash','cash desk',1,0,7700,0,0,0,'2026-11-30 03:09:59.668827');
INSERT INTO "accounts" VALUES(4,'CHF','wallet','card AABBCCDD',0,0,1000,2000,0,0,'2026-11-30 03:09:59.674575');
INSERT INTO "accounts" VALUES(5,'CHF','wallet','card 11223344',0,0,0,700,0,0,'2026-11-30 03:09:59.682943');
INSERT INTO "accounts" VALUES(6,'PTS','wallet','card AABBCCDD points',0,0,0,4,0,0,'2026-11-30 03:09:59.702796');
INSERT INTO "accounts" VALUES(7,'PTS','points','points issued',1,0,4,0,0,0,'2026-11-30 03:09:59.703417');
INSERT INTO "accounts" VALUES(8,'CHF','machine','machine park/slide-3',1,0,0,250,0,500,'2026-11-30 03:09:59.714234');
CREATE TABLE articles (
	id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	product_group_id VARCHAR, 
	revenue_group VARCHAR, 
	topping_group_id VARCHAR, 
	price BIGINT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(product_group_id) REFERENCES product_groups (id)
);
INSERT INTO "articles" VALUES('beer','beer','drinks','bar_drinks',NULL,500);
CREATE TABLE baskets (
	id VARCHAR NOT NULL, 
	idempotency_key VARCHAR NOT NULL, 
	card_uid VARCHAR NOT NULL, 
	outlet_id VARCHAR NOT NULL, 
	request JSON NOT NULL, 
	result JSON NOT NULL, 
	status VARCHAR NOT NULL, 
	refund JSON, 
	created_at DATETIME NOT NULL, 
	refunded_at DATETIME, 
	PRIMARY KEY (id), 
	UNIQUE (idempotency_key), 
	FOREIGN KEY(outlet_id) REFERENCES outlets (id)
);
INSERT INTO "baskets" VALUES('fd7e304113014378b2dc55635498700c','basket/till-1/basket-1','AABBCCDD','bar','{"card_uid": "AABBCCDD", "outlet_id": "bar", "counter_id": null, "channel_in": "till", "channel_out": "counter", "lines": [{"line_id": null, "article_id": "beer", "quantity": 2, "kind": "article", "parent_line_id": null}], "redeem_points": 0, "small_quantity_surcharge": 0, "delivery_fee": 0, "vouchers": []}','{"id": "fd7e304113014378b2dc55635498700c", "card_uid": "AABBCCDD", "outlet_id": "bar", "lines": [{"line_id": "1", "article_id": "beer", "kind": "article", "parent_line_id": null, "quantity": 2, "unit_price": 500, "gross": 1000, "discount_percent": "0", "discount_source": null, "discount": 0, "net": 1000}], "discount": 0, "fees": 0, "total": 1000, "vouchers_value": 0, "points_redeemed": 0, "points_value": 0, "amount_due": 1000, "points_earned": 4, "awards": [{"points": 4, "rule_id": 1, "rule_name": "beer points", "source": "line", "line_id": "1", "reason": "beer points: 2 pts x 2 for article ''beer'' (article ''beer'', line ''1'')", "available_at": "2026-11-30T03:09:59.696998+00:00", "expires_at": null, "key": "basket/till-1/basket-1:line:1"}]}','paid',NULL,'2026-11-30 03:09:59.696998',NULL);
CREATE TABLE bonus_rule_targets (
	id INTEGER NOT NULL, 
	rule_id INTEGER NOT NULL, 
	target_id VARCHAR NOT NULL, 
	points INTEGER NOT NULL, 
	exclusive_voucher_types JSON NOT NULL, 
	exclude_menu_contents BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(rule_id) REFERENCES bonus_rules (id)
);
INSERT INTO "bonus_rule_targets" VALUES(1,1,'beer',2,'[]',0);
CREATE TABLE bonus_rules (
	id INTEGER NOT NULL, 
	name VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	active BOOLEAN NOT NULL, 
	stores JSON NOT NULL, 
	channels_in JSON NOT NULL, 
	channels_out JSON NOT NULL, 
	valid_from DATETIME, 
	valid_to DATETIME, 
	weekdays JSON NOT NULL, 
	on_holidays BOOLEAN NOT NULL, 
	amount_per_point BIGINT NOT NULL, 
	include_redeemed BOOLEAN NOT NULL, 
	include_small_quantity_surcharge BOOLEAN NOT NULL, 
	include_delivery_fee BOOLEAN NOT NULL, 
	points INTEGER NOT NULL, 
	immediately_redeemable BOOLEAN NOT NULL, 
	expiry VARCHAR NOT NULL, 
	expiry_days INTEGER, 
	expiry_date DATE, 
	PRIMARY KEY (id)
);
INSERT INTO "bonus_rules" VALUES(1,'beer points','article',1,'["bar"]','["app", "machine", "till", "webshop"]','["counter", "delivery", "pickup"]',NULL,NULL,'[0, 1, 2, 3, 4, 5, 6]',1,0,0,0,0,0,0,'standard',NULL,NULL);
CREATE TABLE bonus_settings (
	id INTEGER NOT NULL, 
	hours_until_available INTEGER NOT NULL, 
	default_validity_days INTEGER, 
	enabled_stores JSON NOT NULL, 
	point_value INTEGER NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "bonus_settings" VALUES(1,0,NULL,'["bar"]',10);
CREATE TABLE card_discount_groups (
	card_uid VARCHAR NOT NULL, 
	group_id VARCHAR NOT NULL, 
	PRIMARY KEY (card_uid), 
	FOREIGN KEY(card_uid) REFERENCES cards (uid), 
	FOREIGN KEY(group_id) REFERENCES discount_groups (id)
);
CREATE TABLE card_links (
	card_uid VARCHAR NOT NULL, 
	wallet_uid VARCHAR NOT NULL, 
	previous_account_id INTEGER, 
	moved INTEGER NOT NULL, 
	points_moved INTEGER NOT NULL, 
	linked_at DATETIME NOT NULL, 
	PRIMARY KEY (card_uid), 
	FOREIGN KEY(card_uid) REFERENCES cards (uid), 
	FOREIGN KEY(wallet_uid) REFERENCES cards (uid), 
	FOREIGN KEY(previous_account_id) REFERENCES accounts (id)
);
CREATE TABLE card_sun (
	uid VARCHAR NOT NULL, 
	meta_key_hex VARCHAR, 
	file_key_hex VARCHAR NOT NULL, 
	last_counter BIGINT, 
	registered_at DATETIME NOT NULL, 
	last_seen_at DATETIME, 
	PRIMARY KEY (uid), 
	FOREIGN KEY(uid) REFERENCES cards (uid)
);
CREATE TABLE cards (
	uid VARCHAR NOT NULL, 
	account_id INTEGER NOT NULL, 
	status VARCHAR NOT NULL, 
	label VARCHAR NOT NULL, 
	medium VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	holder_name VARCHAR NOT NULL, 
	holder_email VARCHAR NOT NULL, 
	linked_to VARCHAR, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (uid), 
	FOREIGN KEY(account_id) REFERENCES accounts (id)
);
INSERT INTO "cards" VALUES('04A1B2C3D4',2,'active','','rfid','value','','',NULL,'2026-11-30 03:09:59.659983');
INSERT INTO "cards" VALUES('AABBCCDD',4,'active','','rfid','value','','',NULL,'2026-11-30 03:09:59.674808');
INSERT INTO "cards" VALUES('11223344',5,'blocked','','rfid','value','','',NULL,'2026-11-30 03:09:59.683423');
CREATE TABLE counters (
	id VARCHAR NOT NULL, 
	outlet_id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	active BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(outlet_id) REFERENCES outlets (id)
);
CREATE TABLE device_commands (
	device_id VARCHAR NOT NULL, 
	seq INTEGER NOT NULL, 
	kind VARCHAR NOT NULL, 
	body VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	code VARCHAR, 
	detail VARCHAR, 
	created_at DATETIME NOT NULL, 
	acked_at DATETIME, 
	PRIMARY KEY (device_id, seq)
);
CREATE TABLE device_deny (
	device_id VARCHAR NOT NULL, 
	card_uid VARCHAR NOT NULL, 
	PRIMARY KEY (device_id, card_uid)
);
CREATE TABLE device_health (
	device_id VARCHAR NOT NULL, 
	received_at DATETIME NOT NULL, 
	uptime_seconds BIGINT NOT NULL, 
	free_heap_bytes INTEGER, 
	rssi INTEGER, 
	reconnects INTEGER NOT NULL, 
	reader_resets INTEGER NOT NULL, 
	journal_depth INTEGER NOT NULL, 
	fw VARCHAR NOT NULL, 
	PRIMARY KEY (device_id)
);
CREATE TABLE device_requests (
	id INTEGER NOT NULL, 
	device_id VARCHAR NOT NULL, 
	request_id VARCHAR NOT NULL, 
	reply BLOB NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (device_id, request_id)
);
INSERT INTO "device_requests" VALUES(1,'slide-3','1-1',X'7B226B223A20226772616E74222C20227265223A2022312D31222C2022686F6C64223A20223062343664623436633134633437396462316437393335393162646538336366222C2022756E697473223A20312C2022616D6F756E74223A203235302C202262616C616E6365223A20343735307D','2026-11-30 03:09:59.718921');
INSERT INTO "device_requests" VALUES(2,'slide-3','1-2',X'7B226B223A202261636B222C20227265223A2022312D32222C2022706F73746564223A203235302C2022766F69646564223A20307D','2026-11-30 03:09:59.725094');
INSERT INTO "device_requests" VALUES(3,'slide-3','1-3',X'7B226B223A20226772616E74222C20227265223A2022312D33222C2022686F6C64223A20223438653031393862613332373461306661626261303339353561396463353233222C2022756E697473223A20322C2022616D6F756E74223A203530302C202262616C616E6365223A20343235307D','2026-11-30 03:09:59.727556');
CREATE TABLE devices (
	id VARCHAR NOT NULL, 
	site VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	key_hex VARCHAR NOT NULL, 
	unit_price BIGINT NOT NULL, 
	account_id INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(account_id) REFERENCES accounts (id)
);
INSERT INTO "devices" VALUES('slide-3','park','slide-3','dispenser','499c6eebba07c1da7d3f5c09ae3e89e1505082730f74328fc3f0a9fe041db8e6',250,8,'2026-11-30 03:09:59.714574');
CREATE TABLE discount_groups (
	id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE discount_rates (
	id INTEGER NOT NULL, 
	owner VARCHAR NOT NULL, 
	owner_id VARCHAR NOT NULL, 
	scope VARCHAR NOT NULL, 
	target VARCHAR NOT NULL, 
	percent VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (owner, owner_id, scope, target)
);
CREATE TABLE gift_accounts (
	card_uid VARCHAR NOT NULL, 
	item_id VARCHAR NOT NULL, 
	account_id INTEGER NOT NULL, 
	PRIMARY KEY (card_uid, item_id), 
	FOREIGN KEY(card_uid) REFERENCES cards (uid), 
	FOREIGN KEY(item_id) REFERENCES gift_items (id), 
	FOREIGN KEY(account_id) REFERENCES accounts (id)
);
CREATE TABLE gift_activities (
	id INTEGER NOT NULL, 
	"key" VARCHAR NOT NULL, 
	visit_id VARCHAR NOT NULL, 
	card_uid VARCHAR NOT NULL, 
	outlet_id VARCHAR NOT NULL, 
	outlet_kind VARCHAR NOT NULL, 
	at DATETIME NOT NULL, 
	grants JSON NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE ("key"), 
	FOREIGN KEY(visit_id) REFERENCES gift_visits (id)
);
CREATE TABLE gift_chain_rules (
	id INTEGER NOT NULL, 
	name VARCHAR NOT NULL, 
	site_id VARCHAR NOT NULL, 
	active BOOLEAN NOT NULL, 
	activities INTEGER NOT NULL, 
	outlet_kinds JSON NOT NULL, 
	outlet_ids JSON NOT NULL, 
	item_id VARCHAR NOT NULL, 
	units INTEGER NOT NULL, 
	repeat BOOLEAN NOT NULL, 
	max_per_visit INTEGER, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(site_id) REFERENCES sites (id), 
	FOREIGN KEY(item_id) REFERENCES gift_items (id)
);
CREATE TABLE gift_exit_resets (
	"key" VARCHAR NOT NULL, 
	card_uid VARCHAR NOT NULL, 
	site_id VARCHAR NOT NULL, 
	at DATETIME NOT NULL, 
	result JSON NOT NULL, 
	PRIMARY KEY ("key")
);
CREATE TABLE gift_holds (
	id VARCHAR NOT NULL, 
	card_uid VARCHAR NOT NULL, 
	item_id VARCHAR NOT NULL, 
	lot_id VARCHAR NOT NULL, 
	outlet_id VARCHAR NOT NULL, 
	wallet_account_id INTEGER NOT NULL, 
	sink_account_id INTEGER NOT NULL, 
	status VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	resolved_at DATETIME, 
	PRIMARY KEY (id)
);
CREATE TABLE gift_items (
	id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	ledger VARCHAR NOT NULL, 
	currency VARCHAR NOT NULL, 
	value BIGINT NOT NULL, 
	redeem_kinds JSON NOT NULL, 
	redeem_outlets JSON NOT NULL, 
	article_id VARCHAR, 
	voucher_type VARCHAR NOT NULL, 
	points_price INTEGER, 
	points_level INTEGER, 
	valid_days INTEGER, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (ledger)
);
CREATE TABLE gift_lot_moves (
	id INTEGER NOT NULL, 
	lot_id VARCHAR NOT NULL, 
	ref VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	units INTEGER NOT NULL, 
	outlet_id VARCHAR, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(lot_id) REFERENCES gift_lots (id)
);
CREATE TABLE gift_lots (
	id VARCHAR NOT NULL, 
	card_uid VARCHAR NOT NULL, 
	item_id VARCHAR NOT NULL, 
	account_id INTEGER NOT NULL, 
	units INTEGER NOT NULL, 
	remaining INTEGER NOT NULL, 
	value BIGINT NOT NULL, 
	granted_by VARCHAR NOT NULL, 
	site_id VARCHAR NOT NULL, 
	source VARCHAR NOT NULL, 
	rule_id INTEGER, 
	visit_id VARCHAR, 
	source_key VARCHAR NOT NULL, 
	reason VARCHAR NOT NULL, 
	expires_at DATETIME, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(item_id) REFERENCES gift_items (id), 
	FOREIGN KEY(account_id) REFERENCES accounts (id), 
	FOREIGN KEY(granted_by) REFERENCES outlets (id), 
	UNIQUE (source_key)
);
CREATE TABLE gift_obligation_accounts (
	outlet_id VARCHAR NOT NULL, 
	account_id INTEGER NOT NULL, 
	PRIMARY KEY (outlet_id), 
	FOREIGN KEY(outlet_id) REFERENCES outlets (id), 
	FOREIGN KEY(account_id) REFERENCES accounts (id)
);
CREATE TABLE gift_site_settings (
	site_id VARCHAR NOT NULL, 
	reset_gifts BOOLEAN NOT NULL, 
	reset_bought_gifts BOOLEAN NOT NULL, 
	reset_points BOOLEAN NOT NULL, 
	unredeemed_obligation VARCHAR NOT NULL, 
	PRIMARY KEY (site_id), 
	FOREIGN KEY(site_id) REFERENCES sites (id)
);
CREATE TABLE gift_visits (
	id VARCHAR NOT NULL, 
	card_uid VARCHAR NOT NULL, 
	site_id VARCHAR NOT NULL, 
	started_at DATETIME NOT NULL, 
	ended_at DATETIME, 
	PRIMARY KEY (id)
);
CREATE TABLE holds (
	id VARCHAR NOT NULL, 
	device_id VARCHAR NOT NULL, 
	request_id VARCHAR NOT NULL, 
	card_uid VARCHAR NOT NULL, 
	wallet_account_id INTEGER NOT NULL, 
	machine_account_id INTEGER NOT NULL, 
	units INTEGER NOT NULL, 
	unit_price BIGINT NOT NULL, 
	amount BIGINT NOT NULL, 
	status VARCHAR NOT NULL, 
	posted BIGINT NOT NULL, 
	expires_at DATETIME NOT NULL, 
	resolved_at DATETIME, 
	PRIMARY KEY (id)
);
INSERT INTO "holds" VALUES('0b46db46c14c479db1d793591bde83cf','slide-3','1-1','04A1B2C3D4',2,8,1,250,250,'posted',250,'2026-11-30 03:19:59.718921','2026-11-30 03:09:59.725094');
INSERT INTO "holds" VALUES('48e0198ba3274a0fabba03955a9dc523','slide-3','1-3','04A1B2C3D4',2,8,2,250,500,'pending',0,'2026-11-30 03:19:59.727556',NULL);
CREATE TABLE holidays (
	id INTEGER NOT NULL, 
	outlet_id VARCHAR NOT NULL, 
	day DATE NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (outlet_id, day), 
	FOREIGN KEY(outlet_id) REFERENCES outlets (id)
);
CREATE TABLE kiosk_topups (
	device_id VARCHAR NOT NULL, 
	event_id VARCHAR NOT NULL, 
	request_id VARCHAR NOT NULL, 
	card_uid VARCHAR NOT NULL, 
	amount BIGINT NOT NULL, 
	bonus BIGINT NOT NULL, 
	transfer_id VARCHAR NOT NULL, 
	booked_at DATETIME NOT NULL, 
	PRIMARY KEY (device_id, event_id)
);
CREATE TABLE lot_moves (
	id INTEGER NOT NULL, 
	lot_id VARCHAR NOT NULL, 
	ref VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	points INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(lot_id) REFERENCES point_lots (id)
);
CREATE TABLE machine_holds (
	hold_id VARCHAR NOT NULL, 
	card_uid VARCHAR NOT NULL, 
	outlet_id VARCHAR NOT NULL, 
	site_id VARCHAR NOT NULL, 
	article_id VARCHAR NOT NULL, 
	gross_unit_price BIGINT NOT NULL, 
	discount_percent VARCHAR NOT NULL, 
	gift_item VARCHAR, 
	exit BOOLEAN NOT NULL, 
	PRIMARY KEY (hold_id)
);
CREATE TABLE machine_settings (
	device_id VARCHAR NOT NULL, 
	outlet_id VARCHAR NOT NULL, 
	article_id VARCHAR NOT NULL, 
	gift_item VARCHAR, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (device_id), 
	FOREIGN KEY(device_id) REFERENCES devices (id), 
	FOREIGN KEY(outlet_id) REFERENCES outlets (id), 
	FOREIGN KEY(article_id) REFERENCES articles (id), 
	FOREIGN KEY(gift_item) REFERENCES gift_items (id)
);
CREATE TABLE offline_vends (
	device_id VARCHAR NOT NULL, 
	event_id VARCHAR NOT NULL, 
	site VARCHAR NOT NULL, 
	request_id VARCHAR NOT NULL, 
	card_uid VARCHAR NOT NULL, 
	units INTEGER NOT NULL, 
	unit_price BIGINT NOT NULL, 
	amount BIGINT NOT NULL, 
	posted BIGINT NOT NULL, 
	short BIGINT NOT NULL, 
	overspend VARCHAR, 
	vended_at DATETIME, 
	booked_at DATETIME NOT NULL, 
	PRIMARY KEY (device_id, event_id)
);
CREATE TABLE outlets (
	id VARCHAR NOT NULL, 
	site_id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	ledger VARCHAR NOT NULL, 
	revenue_account_id INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(site_id) REFERENCES sites (id), 
	FOREIGN KEY(revenue_account_id) REFERENCES accounts (id)
);
INSERT INTO "outlets" VALUES('bar','park','bar','bar','CHF',1,'2026-11-30 03:09:59.626911');
CREATE TABLE point_accounts (
	card_uid VARCHAR NOT NULL, 
	account_id INTEGER NOT NULL, 
	PRIMARY KEY (card_uid), 
	FOREIGN KEY(card_uid) REFERENCES cards (uid), 
	FOREIGN KEY(account_id) REFERENCES accounts (id)
);
INSERT INTO "point_accounts" VALUES('AABBCCDD',6);
CREATE TABLE point_lots (
	id VARCHAR NOT NULL, 
	card_uid VARCHAR NOT NULL, 
	account_id INTEGER NOT NULL, 
	points INTEGER NOT NULL, 
	remaining INTEGER NOT NULL, 
	available_at DATETIME NOT NULL, 
	expires_at DATETIME, 
	source_key VARCHAR NOT NULL, 
	reason VARCHAR NOT NULL, 
	rule_id INTEGER, 
	basket_id VARCHAR, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(account_id) REFERENCES accounts (id), 
	UNIQUE (source_key)
);
INSERT INTO "point_lots" VALUES('02c939ec1bee4888a90689caca30d378','AABBCCDD',6,4,4,'2026-11-30 03:09:59.696998',NULL,'basket/till-1/basket-1:line:1','beer points: 2 pts x 2 for article ''beer'' (article ''beer'', line ''1'') (basket fd7e304113014378b2dc55635498700c at bar)',1,'fd7e304113014378b2dc55635498700c','2026-11-30 03:09:59.704048');
CREATE TABLE product_groups (
	id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "product_groups" VALUES('drinks','drinks');
CREATE TABLE sites (
	id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	tz VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "sites" VALUES('park','Aqua Park','Europe/Zurich','2026-11-30 03:09:59.619710');
CREATE TABLE topup_tiers (
	id INTEGER NOT NULL, 
	ledger VARCHAR NOT NULL, 
	min_amount BIGINT NOT NULL, 
	percent VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE transfers (
	id VARCHAR NOT NULL, 
	idempotency_key VARCHAR NOT NULL, 
	ledger VARCHAR NOT NULL, 
	debit_account_id INTEGER NOT NULL, 
	credit_account_id INTEGER NOT NULL, 
	amount BIGINT NOT NULL, 
	flags VARCHAR NOT NULL, 
	pending_id VARCHAR, 
	code VARCHAR NOT NULL, 
	reason VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (idempotency_key), 
	FOREIGN KEY(debit_account_id) REFERENCES accounts (id), 
	FOREIGN KEY(credit_account_id) REFERENCES accounts (id)
);
INSERT INTO "transfers" VALUES('eee60c4f87dc48aeba8cbfbf584a245d','topup/till-1/04A1B2C3D4','CHF',3,2,5000,'posted',NULL,'topup','top-up at the cash desk','2026-11-30 03:09:59.669187');
INSERT INTO "transfers" VALUES('6d77e61ecc9943ba9a2108e9df75e7d5','topup/till-1/AABBCCDD','CHF',3,4,2000,'posted',NULL,'topup','top-up at the cash desk','2026-11-30 03:09:59.679020');
INSERT INTO "transfers" VALUES('1ef40a99d442450f86f9175be40e45fb','topup/till-1/11223344','CHF',3,5,700,'posted',NULL,'topup','top-up at the cash desk','2026-11-30 03:09:59.686959');
INSERT INTO "transfers" VALUES('9de79122fb3146d4a71299691cdcc183','basket/till-1/basket-1/pay','CHF',4,1,1000,'posted',NULL,'sale','basket fd7e304113014378b2dc55635498700c at bar','2026-11-30 03:09:59.702318');
INSERT INTO "transfers" VALUES('5e3686e6444d4254a303763778ac0f75','basket/till-1/basket-1:line:1','PTS',7,6,4,'posted',NULL,'points_earned','beer points: 2 pts x 2 for article ''beer'' (article ''beer'', line ''1'') (basket fd7e304113014378b2dc55635498700c at bar)','2026-11-30 03:09:59.703882');
INSERT INTO "transfers" VALUES('0b46db46c14c479db1d793591bde83cf','slide-3/1-1','CHF',2,8,250,'pending',NULL,'tap_hold','1 x 250 at slide-3','2026-11-30 03:09:59.723141');
INSERT INTO "transfers" VALUES('6a031126421347b7b7d3c539de4bb060','slide-3/1-2/post','CHF',2,8,250,'post','0b46db46c14c479db1d793591bde83cf','tap_delivered','1 of 1 delivered at slide-3','2026-11-30 03:09:59.725432');
INSERT INTO "transfers" VALUES('48e0198ba3274a0fabba03955a9dc523','slide-3/1-3','CHF',2,8,500,'pending',NULL,'tap_hold','2 x 250 at slide-3','2026-11-30 03:09:59.727747');
CREATE INDEX ix_accounts_ledger ON accounts (ledger);
CREATE INDEX ix_holds_device_id ON holds (device_id);
CREATE INDEX ix_holds_expires_at ON holds (expires_at);
CREATE INDEX ix_holds_status ON holds (status);
CREATE INDEX ix_topup_tiers_ledger ON topup_tiers (ledger);
CREATE INDEX ix_discount_rates_owner_id ON discount_rates (owner_id);
CREATE INDEX ix_gift_visits_card_uid ON gift_visits (card_uid);
CREATE INDEX ix_gift_visits_site_id ON gift_visits (site_id);
CREATE INDEX ix_offline_vends_card_uid ON offline_vends (card_uid);
CREATE INDEX ix_offline_vends_site ON offline_vends (site);
CREATE INDEX ix_offline_vends_overspend ON offline_vends (overspend);
CREATE INDEX ix_kiosk_topups_card_uid ON kiosk_topups (card_uid);
CREATE INDEX ix_transfers_debit_account_id ON transfers (debit_account_id);
CREATE INDEX ix_transfers_pending_id ON transfers (pending_id);
CREATE INDEX ix_transfers_credit_account_id ON transfers (credit_account_id);
CREATE INDEX ix_cards_account_id ON cards (account_id);
CREATE INDEX ix_cards_linked_to ON cards (linked_to);
CREATE INDEX ix_outlets_site_id ON outlets (site_id);
CREATE INDEX ix_bonus_rule_targets_rule_id ON bonus_rule_targets (rule_id);
CREATE INDEX ix_point_lots_card_uid ON point_lots (card_uid);
CREATE INDEX ix_point_lots_basket_id ON point_lots (basket_id);
CREATE INDEX ix_point_lots_expires_at ON point_lots (expires_at);
CREATE INDEX ix_gift_chain_rules_site_id ON gift_chain_rules (site_id);
CREATE INDEX ix_gift_activities_visit_id ON gift_activities (visit_id);
CREATE INDEX ix_card_links_wallet_uid ON card_links (wallet_uid);
CREATE INDEX ix_counters_outlet_id ON counters (outlet_id);
CREATE INDEX ix_holidays_outlet_id ON holidays (outlet_id);
CREATE INDEX ix_lot_moves_lot_id ON lot_moves (lot_id);
CREATE INDEX ix_lot_moves_ref ON lot_moves (ref);
CREATE INDEX ix_baskets_outlet_id ON baskets (outlet_id);
CREATE INDEX ix_baskets_card_uid ON baskets (card_uid);
CREATE INDEX ix_gift_lots_visit_id ON gift_lots (visit_id);
CREATE INDEX ix_gift_lots_expires_at ON gift_lots (expires_at);
CREATE INDEX ix_gift_lots_site_id ON gift_lots (site_id);
CREATE INDEX ix_gift_lots_card_uid ON gift_lots (card_uid);
CREATE INDEX ix_gift_lots_item_id ON gift_lots (item_id);
CREATE INDEX ix_gift_lot_moves_ref ON gift_lot_moves (ref);
CREATE INDEX ix_gift_lot_moves_lot_id ON gift_lot_moves (lot_id);
COMMIT;
