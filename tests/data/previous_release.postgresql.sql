-- A database made by tapgift's release before migrations (981226a), dumped by pg_dump --no-owner --no-privileges --no-comments --column-inserts.
-- Made by tests/data/make_previous_release.py. Facts: {"pending_hold": "4fb53650a86249e19d13f34054027f14", "pending_request": "1-3"}
--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: accounts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.accounts (
    id integer NOT NULL,
    ledger character varying NOT NULL,
    kind character varying NOT NULL,
    name character varying NOT NULL,
    allow_negative boolean NOT NULL,
    credit_limit bigint NOT NULL,
    debits_posted bigint NOT NULL,
    credits_posted bigint NOT NULL,
    debits_pending bigint NOT NULL,
    credits_pending bigint NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: accounts_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.accounts_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: accounts_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.accounts_id_seq OWNED BY public.accounts.id;


--
-- Name: articles; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.articles (
    id character varying NOT NULL,
    name character varying NOT NULL,
    product_group_id character varying,
    revenue_group character varying,
    topping_group_id character varying,
    price bigint NOT NULL
);


--
-- Name: baskets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.baskets (
    id character varying NOT NULL,
    idempotency_key character varying NOT NULL,
    card_uid character varying NOT NULL,
    outlet_id character varying NOT NULL,
    request json NOT NULL,
    result json NOT NULL,
    status character varying NOT NULL,
    refund json,
    created_at timestamp with time zone NOT NULL,
    refunded_at timestamp with time zone
);


--
-- Name: bonus_rule_targets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bonus_rule_targets (
    id integer NOT NULL,
    rule_id integer NOT NULL,
    target_id character varying NOT NULL,
    points integer NOT NULL,
    exclusive_voucher_types json NOT NULL,
    exclude_menu_contents boolean NOT NULL
);


--
-- Name: bonus_rule_targets_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.bonus_rule_targets_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: bonus_rule_targets_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.bonus_rule_targets_id_seq OWNED BY public.bonus_rule_targets.id;


--
-- Name: bonus_rules; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bonus_rules (
    id integer NOT NULL,
    name character varying NOT NULL,
    kind character varying NOT NULL,
    active boolean NOT NULL,
    stores json NOT NULL,
    channels_in json NOT NULL,
    channels_out json NOT NULL,
    valid_from timestamp with time zone,
    valid_to timestamp with time zone,
    weekdays json NOT NULL,
    on_holidays boolean NOT NULL,
    amount_per_point bigint NOT NULL,
    include_redeemed boolean NOT NULL,
    include_small_quantity_surcharge boolean NOT NULL,
    include_delivery_fee boolean NOT NULL,
    points integer NOT NULL,
    immediately_redeemable boolean NOT NULL,
    expiry character varying NOT NULL,
    expiry_days integer,
    expiry_date date
);


--
-- Name: bonus_rules_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.bonus_rules_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: bonus_rules_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.bonus_rules_id_seq OWNED BY public.bonus_rules.id;


--
-- Name: bonus_settings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bonus_settings (
    id integer NOT NULL,
    hours_until_available integer NOT NULL,
    default_validity_days integer,
    enabled_stores json NOT NULL,
    point_value integer NOT NULL
);


--
-- Name: bonus_settings_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.bonus_settings_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: bonus_settings_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.bonus_settings_id_seq OWNED BY public.bonus_settings.id;


--
-- Name: card_discount_groups; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.card_discount_groups (
    card_uid character varying NOT NULL,
    group_id character varying NOT NULL
);


--
-- Name: card_links; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.card_links (
    card_uid character varying NOT NULL,
    wallet_uid character varying NOT NULL,
    previous_account_id integer,
    moved integer NOT NULL,
    points_moved integer NOT NULL,
    linked_at timestamp with time zone NOT NULL
);


--
-- Name: card_sun; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.card_sun (
    uid character varying NOT NULL,
    meta_key_hex character varying,
    file_key_hex character varying NOT NULL,
    last_counter bigint,
    registered_at timestamp with time zone NOT NULL,
    last_seen_at timestamp with time zone
);


--
-- Name: cards; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cards (
    uid character varying NOT NULL,
    account_id integer NOT NULL,
    status character varying NOT NULL,
    label character varying NOT NULL,
    medium character varying NOT NULL,
    kind character varying NOT NULL,
    holder_name character varying NOT NULL,
    holder_email character varying NOT NULL,
    linked_to character varying,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: counters; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.counters (
    id character varying NOT NULL,
    outlet_id character varying NOT NULL,
    name character varying NOT NULL,
    kind character varying NOT NULL,
    active boolean NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: device_commands; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.device_commands (
    device_id character varying NOT NULL,
    seq integer NOT NULL,
    kind character varying NOT NULL,
    body character varying NOT NULL,
    status character varying NOT NULL,
    code character varying,
    detail character varying,
    created_at timestamp with time zone NOT NULL,
    acked_at timestamp with time zone
);


--
-- Name: device_deny; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.device_deny (
    device_id character varying NOT NULL,
    card_uid character varying NOT NULL
);


--
-- Name: device_health; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.device_health (
    device_id character varying NOT NULL,
    received_at timestamp with time zone NOT NULL,
    uptime_seconds bigint NOT NULL,
    free_heap_bytes integer,
    rssi integer,
    reconnects integer NOT NULL,
    reader_resets integer NOT NULL,
    journal_depth integer NOT NULL,
    fw character varying NOT NULL
);


--
-- Name: device_requests; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.device_requests (
    id integer NOT NULL,
    device_id character varying NOT NULL,
    request_id character varying NOT NULL,
    reply bytea NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: device_requests_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.device_requests_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: device_requests_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.device_requests_id_seq OWNED BY public.device_requests.id;


--
-- Name: devices; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.devices (
    id character varying NOT NULL,
    site character varying NOT NULL,
    name character varying NOT NULL,
    kind character varying NOT NULL,
    key_hex character varying NOT NULL,
    unit_price bigint NOT NULL,
    account_id integer NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: discount_groups; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.discount_groups (
    id character varying NOT NULL,
    name character varying NOT NULL
);


--
-- Name: discount_rates; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.discount_rates (
    id integer NOT NULL,
    owner character varying NOT NULL,
    owner_id character varying NOT NULL,
    scope character varying NOT NULL,
    target character varying NOT NULL,
    percent character varying NOT NULL
);


--
-- Name: discount_rates_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.discount_rates_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: discount_rates_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.discount_rates_id_seq OWNED BY public.discount_rates.id;


--
-- Name: gift_accounts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.gift_accounts (
    card_uid character varying NOT NULL,
    item_id character varying NOT NULL,
    account_id integer NOT NULL
);


--
-- Name: gift_activities; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.gift_activities (
    id integer NOT NULL,
    key character varying NOT NULL,
    visit_id character varying NOT NULL,
    card_uid character varying NOT NULL,
    outlet_id character varying NOT NULL,
    outlet_kind character varying NOT NULL,
    at timestamp with time zone NOT NULL,
    grants json NOT NULL
);


--
-- Name: gift_activities_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.gift_activities_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: gift_activities_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.gift_activities_id_seq OWNED BY public.gift_activities.id;


--
-- Name: gift_chain_rules; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.gift_chain_rules (
    id integer NOT NULL,
    name character varying NOT NULL,
    site_id character varying NOT NULL,
    active boolean NOT NULL,
    activities integer NOT NULL,
    outlet_kinds json NOT NULL,
    outlet_ids json NOT NULL,
    item_id character varying NOT NULL,
    units integer NOT NULL,
    repeat boolean NOT NULL,
    max_per_visit integer,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: gift_chain_rules_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.gift_chain_rules_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: gift_chain_rules_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.gift_chain_rules_id_seq OWNED BY public.gift_chain_rules.id;


--
-- Name: gift_exit_resets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.gift_exit_resets (
    key character varying NOT NULL,
    card_uid character varying NOT NULL,
    site_id character varying NOT NULL,
    at timestamp with time zone NOT NULL,
    result json NOT NULL
);


--
-- Name: gift_holds; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.gift_holds (
    id character varying NOT NULL,
    card_uid character varying NOT NULL,
    item_id character varying NOT NULL,
    lot_id character varying NOT NULL,
    outlet_id character varying NOT NULL,
    wallet_account_id integer NOT NULL,
    sink_account_id integer NOT NULL,
    status character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    resolved_at timestamp with time zone
);


--
-- Name: gift_items; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.gift_items (
    id character varying NOT NULL,
    name character varying NOT NULL,
    ledger character varying NOT NULL,
    currency character varying NOT NULL,
    value bigint NOT NULL,
    redeem_kinds json NOT NULL,
    redeem_outlets json NOT NULL,
    article_id character varying,
    voucher_type character varying NOT NULL,
    points_price integer,
    points_level integer,
    valid_days integer,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: gift_lot_moves; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.gift_lot_moves (
    id integer NOT NULL,
    lot_id character varying NOT NULL,
    ref character varying NOT NULL,
    kind character varying NOT NULL,
    units integer NOT NULL,
    outlet_id character varying,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: gift_lot_moves_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.gift_lot_moves_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: gift_lot_moves_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.gift_lot_moves_id_seq OWNED BY public.gift_lot_moves.id;


--
-- Name: gift_lots; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.gift_lots (
    id character varying NOT NULL,
    card_uid character varying NOT NULL,
    item_id character varying NOT NULL,
    account_id integer NOT NULL,
    units integer NOT NULL,
    remaining integer NOT NULL,
    value bigint NOT NULL,
    granted_by character varying NOT NULL,
    site_id character varying NOT NULL,
    source character varying NOT NULL,
    rule_id integer,
    visit_id character varying,
    source_key character varying NOT NULL,
    reason character varying NOT NULL,
    expires_at timestamp with time zone,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: gift_obligation_accounts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.gift_obligation_accounts (
    outlet_id character varying NOT NULL,
    account_id integer NOT NULL
);


--
-- Name: gift_site_settings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.gift_site_settings (
    site_id character varying NOT NULL,
    reset_gifts boolean NOT NULL,
    reset_bought_gifts boolean NOT NULL,
    reset_points boolean NOT NULL,
    unredeemed_obligation character varying NOT NULL
);


--
-- Name: gift_visits; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.gift_visits (
    id character varying NOT NULL,
    card_uid character varying NOT NULL,
    site_id character varying NOT NULL,
    started_at timestamp with time zone NOT NULL,
    ended_at timestamp with time zone
);


--
-- Name: holds; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.holds (
    id character varying NOT NULL,
    device_id character varying NOT NULL,
    request_id character varying NOT NULL,
    card_uid character varying NOT NULL,
    wallet_account_id integer NOT NULL,
    machine_account_id integer NOT NULL,
    units integer NOT NULL,
    unit_price bigint NOT NULL,
    amount bigint NOT NULL,
    status character varying NOT NULL,
    posted bigint NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    resolved_at timestamp with time zone
);


--
-- Name: holidays; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.holidays (
    id integer NOT NULL,
    outlet_id character varying NOT NULL,
    day date NOT NULL
);


--
-- Name: holidays_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.holidays_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: holidays_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.holidays_id_seq OWNED BY public.holidays.id;


--
-- Name: kiosk_topups; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.kiosk_topups (
    device_id character varying NOT NULL,
    event_id character varying NOT NULL,
    request_id character varying NOT NULL,
    card_uid character varying NOT NULL,
    amount bigint NOT NULL,
    bonus bigint NOT NULL,
    transfer_id character varying NOT NULL,
    booked_at timestamp with time zone NOT NULL
);


--
-- Name: lot_moves; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lot_moves (
    id integer NOT NULL,
    lot_id character varying NOT NULL,
    ref character varying NOT NULL,
    kind character varying NOT NULL,
    points integer NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: lot_moves_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.lot_moves_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: lot_moves_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.lot_moves_id_seq OWNED BY public.lot_moves.id;


--
-- Name: machine_holds; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.machine_holds (
    hold_id character varying NOT NULL,
    card_uid character varying NOT NULL,
    outlet_id character varying NOT NULL,
    site_id character varying NOT NULL,
    article_id character varying NOT NULL,
    gross_unit_price bigint NOT NULL,
    discount_percent character varying NOT NULL,
    gift_item character varying,
    exit boolean NOT NULL
);


--
-- Name: machine_settings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.machine_settings (
    device_id character varying NOT NULL,
    outlet_id character varying NOT NULL,
    article_id character varying NOT NULL,
    gift_item character varying,
    updated_at timestamp with time zone NOT NULL
);


--
-- Name: offline_vends; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.offline_vends (
    device_id character varying NOT NULL,
    event_id character varying NOT NULL,
    site character varying NOT NULL,
    request_id character varying NOT NULL,
    card_uid character varying NOT NULL,
    units integer NOT NULL,
    unit_price bigint NOT NULL,
    amount bigint NOT NULL,
    posted bigint NOT NULL,
    short bigint NOT NULL,
    overspend character varying,
    vended_at timestamp with time zone,
    booked_at timestamp with time zone NOT NULL
);


--
-- Name: outlets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.outlets (
    id character varying NOT NULL,
    site_id character varying NOT NULL,
    name character varying NOT NULL,
    kind character varying NOT NULL,
    ledger character varying NOT NULL,
    revenue_account_id integer NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: point_accounts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.point_accounts (
    card_uid character varying NOT NULL,
    account_id integer NOT NULL
);


--
-- Name: point_lots; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.point_lots (
    id character varying NOT NULL,
    card_uid character varying NOT NULL,
    account_id integer NOT NULL,
    points integer NOT NULL,
    remaining integer NOT NULL,
    available_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone,
    source_key character varying NOT NULL,
    reason character varying NOT NULL,
    rule_id integer,
    basket_id character varying,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: product_groups; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.product_groups (
    id character varying NOT NULL,
    name character varying NOT NULL
);


--
-- Name: sites; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sites (
    id character varying NOT NULL,
    name character varying NOT NULL,
    tz character varying NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: topup_tiers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.topup_tiers (
    id integer NOT NULL,
    ledger character varying NOT NULL,
    min_amount bigint NOT NULL,
    percent character varying NOT NULL
);


--
-- Name: topup_tiers_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.topup_tiers_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: topup_tiers_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.topup_tiers_id_seq OWNED BY public.topup_tiers.id;


--
-- Name: transfers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.transfers (
    id character varying NOT NULL,
    idempotency_key character varying NOT NULL,
    ledger character varying NOT NULL,
    debit_account_id integer NOT NULL,
    credit_account_id integer NOT NULL,
    amount bigint NOT NULL,
    flags character varying NOT NULL,
    pending_id character varying,
    code character varying NOT NULL,
    reason character varying NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: accounts id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.accounts ALTER COLUMN id SET DEFAULT nextval('public.accounts_id_seq'::regclass);


--
-- Name: bonus_rule_targets id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bonus_rule_targets ALTER COLUMN id SET DEFAULT nextval('public.bonus_rule_targets_id_seq'::regclass);


--
-- Name: bonus_rules id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bonus_rules ALTER COLUMN id SET DEFAULT nextval('public.bonus_rules_id_seq'::regclass);


--
-- Name: bonus_settings id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bonus_settings ALTER COLUMN id SET DEFAULT nextval('public.bonus_settings_id_seq'::regclass);


--
-- Name: device_requests id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.device_requests ALTER COLUMN id SET DEFAULT nextval('public.device_requests_id_seq'::regclass);


--
-- Name: discount_rates id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.discount_rates ALTER COLUMN id SET DEFAULT nextval('public.discount_rates_id_seq'::regclass);


--
-- Name: gift_activities id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_activities ALTER COLUMN id SET DEFAULT nextval('public.gift_activities_id_seq'::regclass);


--
-- Name: gift_chain_rules id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_chain_rules ALTER COLUMN id SET DEFAULT nextval('public.gift_chain_rules_id_seq'::regclass);


--
-- Name: gift_lot_moves id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_lot_moves ALTER COLUMN id SET DEFAULT nextval('public.gift_lot_moves_id_seq'::regclass);


--
-- Name: holidays id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.holidays ALTER COLUMN id SET DEFAULT nextval('public.holidays_id_seq'::regclass);


--
-- Name: lot_moves id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lot_moves ALTER COLUMN id SET DEFAULT nextval('public.lot_moves_id_seq'::regclass);


--
-- Name: topup_tiers id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.topup_tiers ALTER COLUMN id SET DEFAULT nextval('public.topup_tiers_id_seq'::regclass);


--
-- Data for Name: accounts; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.accounts (id, ledger, kind, name, allow_negative, credit_limit, debits_posted, credits_posted, debits_pending, credits_pending, created_at) VALUES (5, 'CHF', 'wallet', 'card 11223344', false, 0, 0, 700, 0, 0, '2026-11-30 03:10:01.01334+00');
INSERT INTO public.accounts (id, ledger, kind, name, allow_negative, credit_limit, debits_posted, credits_posted, debits_pending, credits_pending, created_at) VALUES (3, 'CHF', 'cash', 'cash desk', true, 0, 7700, 0, 0, 0, '2026-11-30 03:10:00.880547+00');
INSERT INTO public.accounts (id, ledger, kind, name, allow_negative, credit_limit, debits_posted, credits_posted, debits_pending, credits_pending, created_at) VALUES (4, 'CHF', 'wallet', 'card AABBCCDD', false, 0, 1000, 2000, 0, 0, '2026-11-30 03:10:00.887685+00');
INSERT INTO public.accounts (id, ledger, kind, name, allow_negative, credit_limit, debits_posted, credits_posted, debits_pending, credits_pending, created_at) VALUES (6, 'PTS', 'wallet', 'card AABBCCDD points', false, 0, 0, 4, 0, 0, '2026-11-30 03:10:01.066698+00');
INSERT INTO public.accounts (id, ledger, kind, name, allow_negative, credit_limit, debits_posted, credits_posted, debits_pending, credits_pending, created_at) VALUES (1, 'CHF', 'revenue', 'outlet bar', true, 0, 0, 1000, 0, 0, '2026-11-30 03:10:00.828275+00');
INSERT INTO public.accounts (id, ledger, kind, name, allow_negative, credit_limit, debits_posted, credits_posted, debits_pending, credits_pending, created_at) VALUES (7, 'PTS', 'points', 'points issued', true, 0, 4, 0, 0, 0, '2026-11-30 03:10:01.069542+00');
INSERT INTO public.accounts (id, ledger, kind, name, allow_negative, credit_limit, debits_posted, credits_posted, debits_pending, credits_pending, created_at) VALUES (2, 'CHF', 'wallet', 'card 04A1B2C3D4', false, 0, 250, 5000, 500, 0, '2026-11-30 03:10:00.868006+00');
INSERT INTO public.accounts (id, ledger, kind, name, allow_negative, credit_limit, debits_posted, credits_posted, debits_pending, credits_pending, created_at) VALUES (8, 'CHF', 'machine', 'machine park/slide-3', true, 0, 0, 250, 0, 500, '2026-11-30 03:10:01.084018+00');


--
-- Data for Name: articles; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.articles (id, name, product_group_id, revenue_group, topping_group_id, price) VALUES ('beer', 'beer', 'drinks', 'bar_drinks', NULL, 500);


--
-- Data for Name: baskets; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.baskets (id, idempotency_key, card_uid, outlet_id, request, result, status, refund, created_at, refunded_at) VALUES ('5f105e9baa9949c8a8ab94dddbbf8451', 'basket/till-1/basket-1', 'AABBCCDD', 'bar', '{"card_uid": "AABBCCDD", "outlet_id": "bar", "counter_id": null, "channel_in": "till", "channel_out": "counter", "lines": [{"line_id": null, "article_id": "beer", "quantity": 2, "kind": "article", "parent_line_id": null}], "redeem_points": 0, "small_quantity_surcharge": 0, "delivery_fee": 0, "vouchers": []}', '{"id": "5f105e9baa9949c8a8ab94dddbbf8451", "card_uid": "AABBCCDD", "outlet_id": "bar", "lines": [{"line_id": "1", "article_id": "beer", "kind": "article", "parent_line_id": null, "quantity": 2, "unit_price": 500, "gross": 1000, "discount_percent": "0", "discount_source": null, "discount": 0, "net": 1000}], "discount": 0, "fees": 0, "total": 1000, "vouchers_value": 0, "points_redeemed": 0, "points_value": 0, "amount_due": 1000, "points_earned": 4, "awards": [{"points": 4, "rule_id": 1, "rule_name": "beer points", "source": "line", "line_id": "1", "reason": "beer points: 2 pts x 2 for article ''beer'' (article ''beer'', line ''1'')", "available_at": "2026-11-30T03:10:01.053773+00:00", "expires_at": null, "key": "basket/till-1/basket-1:line:1"}]}', 'paid', NULL, '2026-11-30 03:10:01.053773+00', NULL);


--
-- Data for Name: bonus_rule_targets; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.bonus_rule_targets (id, rule_id, target_id, points, exclusive_voucher_types, exclude_menu_contents) VALUES (1, 1, 'beer', 2, '[]', false);


--
-- Data for Name: bonus_rules; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.bonus_rules (id, name, kind, active, stores, channels_in, channels_out, valid_from, valid_to, weekdays, on_holidays, amount_per_point, include_redeemed, include_small_quantity_surcharge, include_delivery_fee, points, immediately_redeemable, expiry, expiry_days, expiry_date) VALUES (1, 'beer points', 'article', true, '["bar"]', '["app", "machine", "till", "webshop"]', '["counter", "delivery", "pickup"]', NULL, NULL, '[0, 1, 2, 3, 4, 5, 6]', true, 0, false, false, false, 0, false, 'standard', NULL, NULL);


--
-- Data for Name: bonus_settings; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.bonus_settings (id, hours_until_available, default_validity_days, enabled_stores, point_value) VALUES (1, 0, NULL, '["bar"]', 10);


--
-- Data for Name: card_discount_groups; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: card_links; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: card_sun; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: cards; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.cards (uid, account_id, status, label, medium, kind, holder_name, holder_email, linked_to, created_at) VALUES ('04A1B2C3D4', 2, 'active', '', 'rfid', 'value', '', '', NULL, '2026-11-30 03:10:00.868788+00');
INSERT INTO public.cards (uid, account_id, status, label, medium, kind, holder_name, holder_email, linked_to, created_at) VALUES ('AABBCCDD', 4, 'active', '', 'rfid', 'value', '', '', NULL, '2026-11-30 03:10:00.88818+00');
INSERT INTO public.cards (uid, account_id, status, label, medium, kind, holder_name, holder_email, linked_to, created_at) VALUES ('11223344', 5, 'blocked', '', 'rfid', 'value', '', '', NULL, '2026-11-30 03:10:01.01753+00');


--
-- Data for Name: counters; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: device_commands; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: device_deny; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: device_health; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: device_requests; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.device_requests (id, device_id, request_id, reply, created_at) VALUES (1, 'slide-3', '1-1', '\x7b226b223a20226772616e74222c20227265223a2022312d31222c2022686f6c64223a20223264643265393236633238653462386239643166396338373339356132653762222c2022756e697473223a20312c2022616d6f756e74223a203235302c202262616c616e6365223a20343735307d', '2026-11-30 03:10:01.090116+00');
INSERT INTO public.device_requests (id, device_id, request_id, reply, created_at) VALUES (2, 'slide-3', '1-2', '\x7b226b223a202261636b222c20227265223a2022312d32222c2022706f73746564223a203235302c2022766f69646564223a20307d', '2026-11-30 03:10:01.099415+00');
INSERT INTO public.device_requests (id, device_id, request_id, reply, created_at) VALUES (3, 'slide-3', '1-3', '\x7b226b223a20226772616e74222c20227265223a2022312d33222c2022686f6c64223a20223466623533363530613836323439653139643133663334303534303237663134222c2022756e697473223a20322c2022616d6f756e74223a203530302c202262616c616e6365223a20343235307d', '2026-11-30 03:10:01.104039+00');


--
-- Data for Name: devices; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.devices (id, site, name, kind, key_hex, unit_price, account_id, created_at) VALUES ('slide-3', 'park', 'slide-3', 'dispenser', '5b08f9b033c7fb64af8546592c2a7110c25db8359f45b0abff23f3a74bd0e878', 250, 8, '2026-11-30 03:10:01.08461+00');


--
-- Data for Name: discount_groups; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: discount_rates; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: gift_accounts; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: gift_activities; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: gift_chain_rules; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: gift_exit_resets; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: gift_holds; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: gift_items; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: gift_lot_moves; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: gift_lots; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: gift_obligation_accounts; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: gift_site_settings; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: gift_visits; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: holds; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.holds (id, device_id, request_id, card_uid, wallet_account_id, machine_account_id, units, unit_price, amount, status, posted, expires_at, resolved_at) VALUES ('2dd2e926c28e4b8b9d1f9c87395a2e7b', 'slide-3', '1-1', '04A1B2C3D4', 2, 8, 1, 250, 250, 'posted', 250, '2026-11-30 03:20:01.090116+00', '2026-11-30 03:10:01.099415+00');
INSERT INTO public.holds (id, device_id, request_id, card_uid, wallet_account_id, machine_account_id, units, unit_price, amount, status, posted, expires_at, resolved_at) VALUES ('4fb53650a86249e19d13f34054027f14', 'slide-3', '1-3', '04A1B2C3D4', 2, 8, 2, 250, 500, 'pending', 0, '2026-11-30 03:20:01.104039+00', NULL);


--
-- Data for Name: holidays; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: kiosk_topups; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: lot_moves; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: machine_holds; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: machine_settings; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: offline_vends; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: outlets; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.outlets (id, site_id, name, kind, ledger, revenue_account_id, created_at) VALUES ('bar', 'park', 'bar', 'bar', 'CHF', 1, '2026-11-30 03:10:00.82985+00');


--
-- Data for Name: point_accounts; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.point_accounts (card_uid, account_id) VALUES ('AABBCCDD', 6);


--
-- Data for Name: point_lots; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.point_lots (id, card_uid, account_id, points, remaining, available_at, expires_at, source_key, reason, rule_id, basket_id, created_at) VALUES ('ecc48af547844070bca985d86d001284', 'AABBCCDD', 6, 4, 4, '2026-11-30 03:10:01.053773+00', NULL, 'basket/till-1/basket-1:line:1', 'beer points: 2 pts x 2 for article ''beer'' (article ''beer'', line ''1'') (basket 5f105e9baa9949c8a8ab94dddbbf8451 at bar)', 1, '5f105e9baa9949c8a8ab94dddbbf8451', '2026-11-30 03:10:01.071947+00');


--
-- Data for Name: product_groups; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.product_groups (id, name) VALUES ('drinks', 'drinks');


--
-- Data for Name: sites; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.sites (id, name, tz, created_at) VALUES ('park', 'Aqua Park', 'Europe/Zurich', '2026-11-30 03:10:00.821325+00');


--
-- Data for Name: topup_tiers; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: transfers; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.transfers (id, idempotency_key, ledger, debit_account_id, credit_account_id, amount, flags, pending_id, code, reason, created_at) VALUES ('e2991c2ac53345909549125206e1ba2e', 'topup/till-1/04A1B2C3D4', 'CHF', 3, 2, 5000, 'posted', NULL, 'topup', 'top-up at the cash desk', '2026-11-30 03:10:00.881533+00');
INSERT INTO public.transfers (id, idempotency_key, ledger, debit_account_id, credit_account_id, amount, flags, pending_id, code, reason, created_at) VALUES ('aba2e2d167884087bc82112167f608ff', 'topup/till-1/AABBCCDD', 'CHF', 3, 4, 2000, 'posted', NULL, 'topup', 'top-up at the cash desk', '2026-11-30 03:10:00.893922+00');
INSERT INTO public.transfers (id, idempotency_key, ledger, debit_account_id, credit_account_id, amount, flags, pending_id, code, reason, created_at) VALUES ('2ee904512a234e4aa18184e86dd4cf50', 'topup/till-1/11223344', 'CHF', 3, 5, 700, 'posted', NULL, 'topup', 'top-up at the cash desk', '2026-11-30 03:10:01.036289+00');
INSERT INTO public.transfers (id, idempotency_key, ledger, debit_account_id, credit_account_id, amount, flags, pending_id, code, reason, created_at) VALUES ('a88c5ad8ac644695a9170961d3dcbd48', 'basket/till-1/basket-1/pay', 'CHF', 4, 1, 1000, 'posted', NULL, 'sale', 'basket 5f105e9baa9949c8a8ab94dddbbf8451 at bar', '2026-11-30 03:10:01.065557+00');
INSERT INTO public.transfers (id, idempotency_key, ledger, debit_account_id, credit_account_id, amount, flags, pending_id, code, reason, created_at) VALUES ('38a1c628fe56466594e50457107623ea', 'basket/till-1/basket-1:line:1', 'PTS', 7, 6, 4, 'posted', NULL, 'points_earned', 'beer points: 2 pts x 2 for article ''beer'' (article ''beer'', line ''1'') (basket 5f105e9baa9949c8a8ab94dddbbf8451 at bar)', '2026-11-30 03:10:01.071489+00');
INSERT INTO public.transfers (id, idempotency_key, ledger, debit_account_id, credit_account_id, amount, flags, pending_id, code, reason, created_at) VALUES ('2dd2e926c28e4b8b9d1f9c87395a2e7b', 'slide-3/1-1', 'CHF', 2, 8, 250, 'pending', NULL, 'tap_hold', '1 x 250 at slide-3', '2026-11-30 03:10:01.09631+00');
INSERT INTO public.transfers (id, idempotency_key, ledger, debit_account_id, credit_account_id, amount, flags, pending_id, code, reason, created_at) VALUES ('a8355d806725479888629ef2280f9ba4', 'slide-3/1-2/post', 'CHF', 2, 8, 250, 'post', '2dd2e926c28e4b8b9d1f9c87395a2e7b', 'tap_delivered', '1 of 1 delivered at slide-3', '2026-11-30 03:10:01.101053+00');
INSERT INTO public.transfers (id, idempotency_key, ledger, debit_account_id, credit_account_id, amount, flags, pending_id, code, reason, created_at) VALUES ('4fb53650a86249e19d13f34054027f14', 'slide-3/1-3', 'CHF', 2, 8, 500, 'pending', NULL, 'tap_hold', '2 x 250 at slide-3', '2026-11-30 03:10:01.105881+00');


--
-- Name: accounts_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.accounts_id_seq', 8, true);


--
-- Name: bonus_rule_targets_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.bonus_rule_targets_id_seq', 1, true);


--
-- Name: bonus_rules_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.bonus_rules_id_seq', 1, true);


--
-- Name: bonus_settings_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.bonus_settings_id_seq', 1, false);


--
-- Name: device_requests_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.device_requests_id_seq', 3, true);


--
-- Name: discount_rates_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.discount_rates_id_seq', 1, false);


--
-- Name: gift_activities_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.gift_activities_id_seq', 1, false);


--
-- Name: gift_chain_rules_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.gift_chain_rules_id_seq', 1, false);


--
-- Name: gift_lot_moves_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.gift_lot_moves_id_seq', 1, false);


--
-- Name: holidays_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.holidays_id_seq', 1, false);


--
-- Name: lot_moves_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.lot_moves_id_seq', 1, false);


--
-- Name: topup_tiers_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.topup_tiers_id_seq', 1, false);


--
-- Name: accounts accounts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.accounts
    ADD CONSTRAINT accounts_pkey PRIMARY KEY (id);


--
-- Name: articles articles_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.articles
    ADD CONSTRAINT articles_pkey PRIMARY KEY (id);


--
-- Name: baskets baskets_idempotency_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.baskets
    ADD CONSTRAINT baskets_idempotency_key_key UNIQUE (idempotency_key);


--
-- Name: baskets baskets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.baskets
    ADD CONSTRAINT baskets_pkey PRIMARY KEY (id);


--
-- Name: bonus_rule_targets bonus_rule_targets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bonus_rule_targets
    ADD CONSTRAINT bonus_rule_targets_pkey PRIMARY KEY (id);


--
-- Name: bonus_rules bonus_rules_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bonus_rules
    ADD CONSTRAINT bonus_rules_pkey PRIMARY KEY (id);


--
-- Name: bonus_settings bonus_settings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bonus_settings
    ADD CONSTRAINT bonus_settings_pkey PRIMARY KEY (id);


--
-- Name: card_discount_groups card_discount_groups_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.card_discount_groups
    ADD CONSTRAINT card_discount_groups_pkey PRIMARY KEY (card_uid);


--
-- Name: card_links card_links_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.card_links
    ADD CONSTRAINT card_links_pkey PRIMARY KEY (card_uid);


--
-- Name: card_sun card_sun_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.card_sun
    ADD CONSTRAINT card_sun_pkey PRIMARY KEY (uid);


--
-- Name: cards cards_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cards
    ADD CONSTRAINT cards_pkey PRIMARY KEY (uid);


--
-- Name: counters counters_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.counters
    ADD CONSTRAINT counters_pkey PRIMARY KEY (id);


--
-- Name: device_commands device_commands_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.device_commands
    ADD CONSTRAINT device_commands_pkey PRIMARY KEY (device_id, seq);


--
-- Name: device_deny device_deny_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.device_deny
    ADD CONSTRAINT device_deny_pkey PRIMARY KEY (device_id, card_uid);


--
-- Name: device_health device_health_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.device_health
    ADD CONSTRAINT device_health_pkey PRIMARY KEY (device_id);


--
-- Name: device_requests device_requests_device_id_request_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.device_requests
    ADD CONSTRAINT device_requests_device_id_request_id_key UNIQUE (device_id, request_id);


--
-- Name: device_requests device_requests_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.device_requests
    ADD CONSTRAINT device_requests_pkey PRIMARY KEY (id);


--
-- Name: devices devices_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.devices
    ADD CONSTRAINT devices_pkey PRIMARY KEY (id);


--
-- Name: discount_groups discount_groups_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.discount_groups
    ADD CONSTRAINT discount_groups_pkey PRIMARY KEY (id);


--
-- Name: discount_rates discount_rates_owner_owner_id_scope_target_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.discount_rates
    ADD CONSTRAINT discount_rates_owner_owner_id_scope_target_key UNIQUE (owner, owner_id, scope, target);


--
-- Name: discount_rates discount_rates_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.discount_rates
    ADD CONSTRAINT discount_rates_pkey PRIMARY KEY (id);


--
-- Name: gift_accounts gift_accounts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_accounts
    ADD CONSTRAINT gift_accounts_pkey PRIMARY KEY (card_uid, item_id);


--
-- Name: gift_activities gift_activities_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_activities
    ADD CONSTRAINT gift_activities_key_key UNIQUE (key);


--
-- Name: gift_activities gift_activities_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_activities
    ADD CONSTRAINT gift_activities_pkey PRIMARY KEY (id);


--
-- Name: gift_chain_rules gift_chain_rules_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_chain_rules
    ADD CONSTRAINT gift_chain_rules_pkey PRIMARY KEY (id);


--
-- Name: gift_exit_resets gift_exit_resets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_exit_resets
    ADD CONSTRAINT gift_exit_resets_pkey PRIMARY KEY (key);


--
-- Name: gift_holds gift_holds_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_holds
    ADD CONSTRAINT gift_holds_pkey PRIMARY KEY (id);


--
-- Name: gift_items gift_items_ledger_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_items
    ADD CONSTRAINT gift_items_ledger_key UNIQUE (ledger);


--
-- Name: gift_items gift_items_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_items
    ADD CONSTRAINT gift_items_pkey PRIMARY KEY (id);


--
-- Name: gift_lot_moves gift_lot_moves_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_lot_moves
    ADD CONSTRAINT gift_lot_moves_pkey PRIMARY KEY (id);


--
-- Name: gift_lots gift_lots_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_lots
    ADD CONSTRAINT gift_lots_pkey PRIMARY KEY (id);


--
-- Name: gift_lots gift_lots_source_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_lots
    ADD CONSTRAINT gift_lots_source_key_key UNIQUE (source_key);


--
-- Name: gift_obligation_accounts gift_obligation_accounts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_obligation_accounts
    ADD CONSTRAINT gift_obligation_accounts_pkey PRIMARY KEY (outlet_id);


--
-- Name: gift_site_settings gift_site_settings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_site_settings
    ADD CONSTRAINT gift_site_settings_pkey PRIMARY KEY (site_id);


--
-- Name: gift_visits gift_visits_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_visits
    ADD CONSTRAINT gift_visits_pkey PRIMARY KEY (id);


--
-- Name: holds holds_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.holds
    ADD CONSTRAINT holds_pkey PRIMARY KEY (id);


--
-- Name: holidays holidays_outlet_id_day_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.holidays
    ADD CONSTRAINT holidays_outlet_id_day_key UNIQUE (outlet_id, day);


--
-- Name: holidays holidays_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.holidays
    ADD CONSTRAINT holidays_pkey PRIMARY KEY (id);


--
-- Name: kiosk_topups kiosk_topups_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.kiosk_topups
    ADD CONSTRAINT kiosk_topups_pkey PRIMARY KEY (device_id, event_id);


--
-- Name: lot_moves lot_moves_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lot_moves
    ADD CONSTRAINT lot_moves_pkey PRIMARY KEY (id);


--
-- Name: machine_holds machine_holds_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.machine_holds
    ADD CONSTRAINT machine_holds_pkey PRIMARY KEY (hold_id);


--
-- Name: machine_settings machine_settings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.machine_settings
    ADD CONSTRAINT machine_settings_pkey PRIMARY KEY (device_id);


--
-- Name: offline_vends offline_vends_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.offline_vends
    ADD CONSTRAINT offline_vends_pkey PRIMARY KEY (device_id, event_id);


--
-- Name: outlets outlets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outlets
    ADD CONSTRAINT outlets_pkey PRIMARY KEY (id);


--
-- Name: point_accounts point_accounts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.point_accounts
    ADD CONSTRAINT point_accounts_pkey PRIMARY KEY (card_uid);


--
-- Name: point_lots point_lots_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.point_lots
    ADD CONSTRAINT point_lots_pkey PRIMARY KEY (id);


--
-- Name: point_lots point_lots_source_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.point_lots
    ADD CONSTRAINT point_lots_source_key_key UNIQUE (source_key);


--
-- Name: product_groups product_groups_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.product_groups
    ADD CONSTRAINT product_groups_pkey PRIMARY KEY (id);


--
-- Name: sites sites_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sites
    ADD CONSTRAINT sites_pkey PRIMARY KEY (id);


--
-- Name: topup_tiers topup_tiers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.topup_tiers
    ADD CONSTRAINT topup_tiers_pkey PRIMARY KEY (id);


--
-- Name: transfers transfers_idempotency_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.transfers
    ADD CONSTRAINT transfers_idempotency_key_key UNIQUE (idempotency_key);


--
-- Name: transfers transfers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.transfers
    ADD CONSTRAINT transfers_pkey PRIMARY KEY (id);


--
-- Name: ix_accounts_ledger; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_accounts_ledger ON public.accounts USING btree (ledger);


--
-- Name: ix_baskets_card_uid; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_baskets_card_uid ON public.baskets USING btree (card_uid);


--
-- Name: ix_baskets_outlet_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_baskets_outlet_id ON public.baskets USING btree (outlet_id);


--
-- Name: ix_bonus_rule_targets_rule_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_bonus_rule_targets_rule_id ON public.bonus_rule_targets USING btree (rule_id);


--
-- Name: ix_card_links_wallet_uid; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_card_links_wallet_uid ON public.card_links USING btree (wallet_uid);


--
-- Name: ix_cards_account_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_cards_account_id ON public.cards USING btree (account_id);


--
-- Name: ix_cards_linked_to; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_cards_linked_to ON public.cards USING btree (linked_to);


--
-- Name: ix_counters_outlet_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_counters_outlet_id ON public.counters USING btree (outlet_id);


--
-- Name: ix_discount_rates_owner_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_discount_rates_owner_id ON public.discount_rates USING btree (owner_id);


--
-- Name: ix_gift_activities_visit_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_gift_activities_visit_id ON public.gift_activities USING btree (visit_id);


--
-- Name: ix_gift_chain_rules_site_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_gift_chain_rules_site_id ON public.gift_chain_rules USING btree (site_id);


--
-- Name: ix_gift_lot_moves_lot_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_gift_lot_moves_lot_id ON public.gift_lot_moves USING btree (lot_id);


--
-- Name: ix_gift_lot_moves_ref; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_gift_lot_moves_ref ON public.gift_lot_moves USING btree (ref);


--
-- Name: ix_gift_lots_card_uid; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_gift_lots_card_uid ON public.gift_lots USING btree (card_uid);


--
-- Name: ix_gift_lots_expires_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_gift_lots_expires_at ON public.gift_lots USING btree (expires_at);


--
-- Name: ix_gift_lots_item_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_gift_lots_item_id ON public.gift_lots USING btree (item_id);


--
-- Name: ix_gift_lots_site_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_gift_lots_site_id ON public.gift_lots USING btree (site_id);


--
-- Name: ix_gift_lots_visit_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_gift_lots_visit_id ON public.gift_lots USING btree (visit_id);


--
-- Name: ix_gift_visits_card_uid; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_gift_visits_card_uid ON public.gift_visits USING btree (card_uid);


--
-- Name: ix_gift_visits_site_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_gift_visits_site_id ON public.gift_visits USING btree (site_id);


--
-- Name: ix_holds_device_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_holds_device_id ON public.holds USING btree (device_id);


--
-- Name: ix_holds_expires_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_holds_expires_at ON public.holds USING btree (expires_at);


--
-- Name: ix_holds_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_holds_status ON public.holds USING btree (status);


--
-- Name: ix_holidays_outlet_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_holidays_outlet_id ON public.holidays USING btree (outlet_id);


--
-- Name: ix_kiosk_topups_card_uid; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_kiosk_topups_card_uid ON public.kiosk_topups USING btree (card_uid);


--
-- Name: ix_lot_moves_lot_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_lot_moves_lot_id ON public.lot_moves USING btree (lot_id);


--
-- Name: ix_lot_moves_ref; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_lot_moves_ref ON public.lot_moves USING btree (ref);


--
-- Name: ix_offline_vends_card_uid; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_offline_vends_card_uid ON public.offline_vends USING btree (card_uid);


--
-- Name: ix_offline_vends_overspend; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_offline_vends_overspend ON public.offline_vends USING btree (overspend);


--
-- Name: ix_offline_vends_site; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_offline_vends_site ON public.offline_vends USING btree (site);


--
-- Name: ix_outlets_site_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_outlets_site_id ON public.outlets USING btree (site_id);


--
-- Name: ix_point_lots_basket_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_point_lots_basket_id ON public.point_lots USING btree (basket_id);


--
-- Name: ix_point_lots_card_uid; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_point_lots_card_uid ON public.point_lots USING btree (card_uid);


--
-- Name: ix_point_lots_expires_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_point_lots_expires_at ON public.point_lots USING btree (expires_at);


--
-- Name: ix_topup_tiers_ledger; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_topup_tiers_ledger ON public.topup_tiers USING btree (ledger);


--
-- Name: ix_transfers_credit_account_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_transfers_credit_account_id ON public.transfers USING btree (credit_account_id);


--
-- Name: ix_transfers_debit_account_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_transfers_debit_account_id ON public.transfers USING btree (debit_account_id);


--
-- Name: ix_transfers_pending_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_transfers_pending_id ON public.transfers USING btree (pending_id);


--
-- Name: articles articles_product_group_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.articles
    ADD CONSTRAINT articles_product_group_id_fkey FOREIGN KEY (product_group_id) REFERENCES public.product_groups(id);


--
-- Name: baskets baskets_outlet_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.baskets
    ADD CONSTRAINT baskets_outlet_id_fkey FOREIGN KEY (outlet_id) REFERENCES public.outlets(id);


--
-- Name: bonus_rule_targets bonus_rule_targets_rule_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bonus_rule_targets
    ADD CONSTRAINT bonus_rule_targets_rule_id_fkey FOREIGN KEY (rule_id) REFERENCES public.bonus_rules(id);


--
-- Name: card_discount_groups card_discount_groups_card_uid_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.card_discount_groups
    ADD CONSTRAINT card_discount_groups_card_uid_fkey FOREIGN KEY (card_uid) REFERENCES public.cards(uid);


--
-- Name: card_discount_groups card_discount_groups_group_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.card_discount_groups
    ADD CONSTRAINT card_discount_groups_group_id_fkey FOREIGN KEY (group_id) REFERENCES public.discount_groups(id);


--
-- Name: card_links card_links_card_uid_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.card_links
    ADD CONSTRAINT card_links_card_uid_fkey FOREIGN KEY (card_uid) REFERENCES public.cards(uid);


--
-- Name: card_links card_links_previous_account_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.card_links
    ADD CONSTRAINT card_links_previous_account_id_fkey FOREIGN KEY (previous_account_id) REFERENCES public.accounts(id);


--
-- Name: card_links card_links_wallet_uid_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.card_links
    ADD CONSTRAINT card_links_wallet_uid_fkey FOREIGN KEY (wallet_uid) REFERENCES public.cards(uid);


--
-- Name: card_sun card_sun_uid_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.card_sun
    ADD CONSTRAINT card_sun_uid_fkey FOREIGN KEY (uid) REFERENCES public.cards(uid);


--
-- Name: cards cards_account_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cards
    ADD CONSTRAINT cards_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);


--
-- Name: counters counters_outlet_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.counters
    ADD CONSTRAINT counters_outlet_id_fkey FOREIGN KEY (outlet_id) REFERENCES public.outlets(id);


--
-- Name: devices devices_account_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.devices
    ADD CONSTRAINT devices_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);


--
-- Name: gift_accounts gift_accounts_account_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_accounts
    ADD CONSTRAINT gift_accounts_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);


--
-- Name: gift_accounts gift_accounts_card_uid_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_accounts
    ADD CONSTRAINT gift_accounts_card_uid_fkey FOREIGN KEY (card_uid) REFERENCES public.cards(uid);


--
-- Name: gift_accounts gift_accounts_item_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_accounts
    ADD CONSTRAINT gift_accounts_item_id_fkey FOREIGN KEY (item_id) REFERENCES public.gift_items(id);


--
-- Name: gift_activities gift_activities_visit_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_activities
    ADD CONSTRAINT gift_activities_visit_id_fkey FOREIGN KEY (visit_id) REFERENCES public.gift_visits(id);


--
-- Name: gift_chain_rules gift_chain_rules_item_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_chain_rules
    ADD CONSTRAINT gift_chain_rules_item_id_fkey FOREIGN KEY (item_id) REFERENCES public.gift_items(id);


--
-- Name: gift_chain_rules gift_chain_rules_site_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_chain_rules
    ADD CONSTRAINT gift_chain_rules_site_id_fkey FOREIGN KEY (site_id) REFERENCES public.sites(id);


--
-- Name: gift_lot_moves gift_lot_moves_lot_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_lot_moves
    ADD CONSTRAINT gift_lot_moves_lot_id_fkey FOREIGN KEY (lot_id) REFERENCES public.gift_lots(id);


--
-- Name: gift_lots gift_lots_account_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_lots
    ADD CONSTRAINT gift_lots_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);


--
-- Name: gift_lots gift_lots_granted_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_lots
    ADD CONSTRAINT gift_lots_granted_by_fkey FOREIGN KEY (granted_by) REFERENCES public.outlets(id);


--
-- Name: gift_lots gift_lots_item_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_lots
    ADD CONSTRAINT gift_lots_item_id_fkey FOREIGN KEY (item_id) REFERENCES public.gift_items(id);


--
-- Name: gift_obligation_accounts gift_obligation_accounts_account_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_obligation_accounts
    ADD CONSTRAINT gift_obligation_accounts_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);


--
-- Name: gift_obligation_accounts gift_obligation_accounts_outlet_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_obligation_accounts
    ADD CONSTRAINT gift_obligation_accounts_outlet_id_fkey FOREIGN KEY (outlet_id) REFERENCES public.outlets(id);


--
-- Name: gift_site_settings gift_site_settings_site_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.gift_site_settings
    ADD CONSTRAINT gift_site_settings_site_id_fkey FOREIGN KEY (site_id) REFERENCES public.sites(id);


--
-- Name: holidays holidays_outlet_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.holidays
    ADD CONSTRAINT holidays_outlet_id_fkey FOREIGN KEY (outlet_id) REFERENCES public.outlets(id);


--
-- Name: lot_moves lot_moves_lot_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lot_moves
    ADD CONSTRAINT lot_moves_lot_id_fkey FOREIGN KEY (lot_id) REFERENCES public.point_lots(id);


--
-- Name: machine_settings machine_settings_article_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.machine_settings
    ADD CONSTRAINT machine_settings_article_id_fkey FOREIGN KEY (article_id) REFERENCES public.articles(id);


--
-- Name: machine_settings machine_settings_device_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.machine_settings
    ADD CONSTRAINT machine_settings_device_id_fkey FOREIGN KEY (device_id) REFERENCES public.devices(id);


--
-- Name: machine_settings machine_settings_gift_item_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.machine_settings
    ADD CONSTRAINT machine_settings_gift_item_fkey FOREIGN KEY (gift_item) REFERENCES public.gift_items(id);


--
-- Name: machine_settings machine_settings_outlet_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.machine_settings
    ADD CONSTRAINT machine_settings_outlet_id_fkey FOREIGN KEY (outlet_id) REFERENCES public.outlets(id);


--
-- Name: outlets outlets_revenue_account_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outlets
    ADD CONSTRAINT outlets_revenue_account_id_fkey FOREIGN KEY (revenue_account_id) REFERENCES public.accounts(id);


--
-- Name: outlets outlets_site_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outlets
    ADD CONSTRAINT outlets_site_id_fkey FOREIGN KEY (site_id) REFERENCES public.sites(id);


--
-- Name: point_accounts point_accounts_account_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.point_accounts
    ADD CONSTRAINT point_accounts_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);


--
-- Name: point_accounts point_accounts_card_uid_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.point_accounts
    ADD CONSTRAINT point_accounts_card_uid_fkey FOREIGN KEY (card_uid) REFERENCES public.cards(uid);


--
-- Name: point_lots point_lots_account_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.point_lots
    ADD CONSTRAINT point_lots_account_id_fkey FOREIGN KEY (account_id) REFERENCES public.accounts(id);


--
-- Name: transfers transfers_credit_account_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.transfers
    ADD CONSTRAINT transfers_credit_account_id_fkey FOREIGN KEY (credit_account_id) REFERENCES public.accounts(id);


--
-- Name: transfers transfers_debit_account_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.transfers
    ADD CONSTRAINT transfers_debit_account_id_fkey FOREIGN KEY (debit_account_id) REFERENCES public.accounts(id);


--
-- PostgreSQL database dump complete
--


