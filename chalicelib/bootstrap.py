"""The one place that picks adapters for a profile and wires the services together."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .adapters.embedders import CachingEmbedder, model_dimensions
from .auth import TokenIssuer, token_secret
from .clock import SystemClock
from .config import Settings
from .domain import Answer, Profile, Question
from .oidc import OidcVerifier
from .ports import (AuditLog, Clock, CommunityStore, DownloadStore, Embedder, Mailer,
                    ProfileStore, QuestionStore, SearchIndex, SettingStore, VoteReader)
from .services.audit import AuditService
from .services.communities import CommunityService, RecognitionService
from .services.expertise import ExpertiseService
from .services.figures import FiguresService
from .services.hr_sync import HrSyncService
from .services.indexing import Indexer
from .services.jobs import ScheduledJobs
from .services.modules import ModuleService
from .services.notify import Notifier
from .services.privacy import PrivacyService
from .services.profiles import ProfileService
from .services.questions import QuestionService
from .services.replay import PolicyReplay
from .services.routing import RoutingService
from .services.scim import ScimService
from .services.watching import WatchService


@dataclass
class Relais:
    """Everything an entry point needs, built once per process."""

    settings: Settings
    clock: Clock
    profile_store: ProfileStore
    question_store: QuestionStore
    index: SearchIndex
    embedder: Embedder
    mailer: Mailer
    tokens: TokenIssuer | None
    profiles: ProfileService
    hr_sync: HrSyncService
    scim: ScimService
    questions: QuestionService
    routing: RoutingService
    notifier: Notifier
    indexer: Indexer | None = None  # runs after each write when the profile indexes in process
    mail_ledger: object | None = None  # email channel records (None: channel off)
    email_in: object | None = None  # EmailIngestService
    # Communities, modules, figures, privacy (set by bootstrap; None only if built by hand).
    audit: AuditService | None = None
    modules: ModuleService | None = None
    communities: CommunityService | None = None
    recognition: RecognitionService | None = None
    figures: FiguresService | None = None
    privacy: PrivacyService | None = None
    replay: PolicyReplay | None = None
    expertise: ExpertiseService | None = None
    jobs: ScheduledJobs | None = None
    sign_in: OidcVerifier | None = None  # the company's identity provider, when configured


@dataclass
class Adapters:
    """The adapters of one profile. Every profile keeps communities, module switches, the
    audit log and votes in its own records: none of them lives only in memory."""

    profile_store: ProfileStore
    question_store: QuestionStore
    index: SearchIndex
    mailer: Mailer
    tokens: TokenIssuer | None
    index_in_process: bool  # embedded: index right after each write; aws: the stream does
    community_store: CommunityStore
    setting_store: SettingStore
    audit_log: AuditLog
    votes: VoteReader
    mail_ledger: object | None = None  # MailLedger; None switches the email channel off
    raw_mail: object | None = None  # RawMailStore for inbound messages
    downloads: DownloadStore | None = None  # where exports too large for a response go


def default_embedder(settings: Settings) -> Embedder:
    """sentence-transformers where torch is installed, loaded on first use, with a cache."""
    from .adapters.embedders import SentenceTransformerEmbedder

    return CachingEmbedder(SentenceTransformerEmbedder(settings.embedding_model))


def embedded_adapters(settings: Settings, dimensions: int | None = None) -> Adapters:
    """SQLite records, the in-process search index (sized for vectors of `dimensions`, by
    default the model's), the outbox."""
    from .adapters.embedded_index import EmbeddedIndex
    from .adapters.mail import MAIL_FOLDER, MaildirStore, OutboxMailer, SQLiteMailLedger
    from .adapters.sqlite_db import SQLiteDatabase
    from .adapters.sqlite_store import SQLiteProfileStore, SQLiteQuestionStore

    db = SQLiteDatabase(settings.database)
    return Adapters(
        profile_store=SQLiteProfileStore(db), question_store=SQLiteQuestionStore(db),
        index=EmbeddedIndex(db, dimensions or model_dimensions(settings.embedding_model),
                            half_life_days=settings.recency_half_life_days,
                            activity_half_life_days=settings.activity_half_life_days),
        mailer=OutboxMailer(db, settings.mail_from, settings.smtp_url),
        tokens=TokenIssuer(token_secret(settings), settings.token_ttl_hours),
        index_in_process=True, mail_ledger=SQLiteMailLedger(db),
        raw_mail=MaildirStore(Path(settings.data_dir) / MAIL_FOLDER), **community_adapters(db))


def community_adapters(db) -> dict:
    """The SQLite stores of communities, module switches, the audit log and vote reading."""
    from .adapters.sqlite_community_store import (SQLiteAuditLog, SQLiteCommunityStore,
                                                  SQLiteSettingStore, SQLiteVoteReader)

    return {"community_store": SQLiteCommunityStore(db), "setting_store": SQLiteSettingStore(db),
            "audit_log": SQLiteAuditLog(db), "votes": SQLiteVoteReader(db)}


def aws_community_adapters(settings: Settings, client=None) -> dict:
    """The DynamoDB stores of communities, module switches and the audit log (on the
    `community` table) and vote reading (on the `qa` table), named as Adapters fields."""
    import boto3

    from .adapters.dynamodb_community_store import (DynamoDBAuditLog, DynamoDBCommunityStore,
                                                    DynamoDBSettingStore, DynamoDBVoteReader)
    from .adapters.dynamodb_store import table_names

    client = client or boto3.client("dynamodb", region_name=settings.aws_region)
    names = table_names(settings.table_prefix)
    return {"community_store": DynamoDBCommunityStore(client, names["community"]),
            "setting_store": DynamoDBSettingStore(client, names["community"]),
            "audit_log": DynamoDBAuditLog(client, names["community"]),
            "votes": DynamoDBVoteReader(client, names["qa"])}


def aws_stores(settings: Settings, client=None) -> tuple[ProfileStore, QuestionStore]:
    """The DynamoDB stores of the aws profile, on the tables named from `table_prefix`.

    `client` defaults to a DynamoDB client for `aws_region`; AWS_ENDPOINT_URL_DYNAMODB points
    it elsewhere (a local moto server) without a setting of ours.
    """
    import boto3

    from .adapters.dynamodb_store import DynamoDBProfileStore, DynamoDBQuestionStore, table_names

    client = client or boto3.client("dynamodb", region_name=settings.aws_region)
    names = table_names(settings.table_prefix)
    return (DynamoDBProfileStore(client, names["profiles"],
                                 search_scan_limit=settings.directory_search_scan_limit),
            DynamoDBQuestionStore(client, names["qa"]))


def opensearch_client(settings: Settings):
    """An OpenSearch client: SigV4-signed for an AWS domain, plain for a local node."""
    from urllib.parse import urlparse

    from opensearchpy import OpenSearch, RequestsHttpConnection

    url = urlparse(settings.opensearch_url)
    options = {"hosts": [settings.opensearch_url], "timeout": 30}
    if url.scheme == "https" and url.hostname not in ("127.0.0.1", "localhost"):
        import boto3
        from opensearchpy import AWSV4SignerAuth

        credentials = boto3.Session().get_credentials()
        options.update(http_auth=AWSV4SignerAuth(credentials, settings.aws_region, "es"),
                       use_ssl=True, verify_certs=True, connection_class=RequestsHttpConnection)
    return OpenSearch(**options)


def aws_adapters(settings: Settings, dimensions: int | None = None) -> Adapters:
    """DynamoDB records, OpenSearch search, SES mail. Indexing follows the DynamoDB stream
    (the indexer Lambda) unless `index_on_write` asks for it in process (local runs)."""
    from .adapters.downloads import S3DownloadStore
    from .adapters.mail import (DynamoDBMailLedger, S3MailStore, SesMailer, aws_client,
                                mail_table_name)
    from .adapters.opensearch_index import OpenSearchIndex

    dynamodb = aws_client("dynamodb", settings.aws_region)
    profile_store, question_store = aws_stores(settings, dynamodb)
    tokens = None
    if settings.token_secret:  # a local run signs its own tokens; on AWS the authorizer does
        tokens = TokenIssuer(settings.token_secret, settings.token_ttl_hours)
    return Adapters(
        profile_store=profile_store, question_store=question_store,
        index=OpenSearchIndex(opensearch_client(settings), settings.opensearch_index,
                              dimensions=dimensions or model_dimensions(settings.embedding_model),
                              half_life_days=settings.recency_half_life_days,
                              activity_half_life_days=settings.activity_half_life_days),
        mailer=SesMailer(settings.mail_from, settings.aws_region), tokens=tokens,
        index_in_process=settings.index_on_write,
        mail_ledger=DynamoDBMailLedger(dynamodb, mail_table_name(settings.table_prefix)),
        raw_mail=S3MailStore(settings.mail_bucket, settings.aws_region),
        downloads=S3DownloadStore(settings.mail_bucket, settings.aws_region),
        **aws_community_adapters(settings, dynamodb))


def query_embedder(settings: Settings) -> Embedder:
    """The API's embedder: ONNX when an exported model is packaged (no torch on Lambda),
    else sentence-transformers."""
    from .adapters.embedders import OnnxEmbedder

    onnx_dir = Path(settings.onnx_model_dir or Path(__file__).parent / "model")
    if (onnx_dir / "model.onnx").exists():
        return CachingEmbedder(OnnxEmbedder(str(onnx_dir)))
    return default_embedder(settings)


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None,
              embedder: Embedder | None = None, adapters: Adapters | None = None) -> Relais:
    """Build Relais for `settings.backend`: embedded (SQLite + in-process search) or aws
    (DynamoDB + OpenSearch + SES)."""
    settings = settings or Settings.from_env()
    clock = clock or SystemClock()
    embedder = embedder or (query_embedder(settings) if settings.backend == "aws"
                            else default_embedder(settings))
    if not isinstance(embedder, CachingEmbedder):
        embedder = CachingEmbedder(embedder)  # identical texts (skills) are embedded once
    if adapters is None:  # the index holds vectors of the embedder's width
        adapters = (aws_adapters(settings, embedder.dimensions) if settings.backend == "aws"
                    else embedded_adapters(settings, embedder.dimensions))
    indexer = Indexer(adapters.profile_store, adapters.question_store, adapters.index, embedder)
    notifier = Notifier(adapters.mailer, adapters.profile_store, settings.base_url,
                        ledger=adapters.mail_ledger, mail_host=settings.mail_host, clock=clock)

    index_now = adapters.index_in_process and settings.index_on_write

    def profile_changed(profile: Profile) -> None:
        if index_now:
            indexer.index_profile(profile)

    profiles = ProfileService(adapters.profile_store, clock, on_change=profile_changed)
    missing = [name for name in ("community_store", "setting_store", "audit_log", "votes")
               if getattr(adapters, name) is None]
    if missing:  # never a store in memory: what it held would be lost at the next start
        raise ValueError(f"the adapters lack {', '.join(missing)}: every profile must keep "
                         "communities, module switches, the audit log and votes in its records")
    audit = AuditService(adapters.audit_log, clock)
    modules = ModuleService(adapters.setting_store, audit, settings.modules_off.split(","))
    communities = CommunityService(settings, adapters.community_store, adapters.profile_store,
                                   adapters.question_store, clock, modules, audit)
    routing = RoutingService(settings, adapters.profile_store, adapters.question_store, profiles,
                             adapters.index, embedder, clock, notifier=notifier,
                             communities=communities)

    def answer_changed(question: Question, answer: Answer, event: str) -> None:
        if index_now:
            if event == "accepted":
                indexer.index_question(question)
            else:
                indexer.index_answer(question, answer)
        if event == "added":
            routing.answered(question, answer)
            notifier.answered(question, answer)

    watching = WatchService(adapters.profile_store, notifier, clock,
                            settings.watch_mails_per_question)

    def asked(question: Question) -> None:
        relays = routing.route(question)
        watching.asked(question, {r.expert_id for r in relays})

    questions = QuestionService(adapters.question_store, adapters.profile_store, clock,
                                after_ask=asked, after_answer=answer_changed)
    hr_sync = HrSyncService(adapters.profile_store, clock, settings.hr_sync_max_items,
                            on_change=profile_changed)

    def scim_changed(profile: Profile) -> None:
        profile_changed(profile)
        audit.record(None, "scim.write", profile.id,
                     {"active": profile.active, "deleted": profile.deleted,
                      "version": profile.version}, actor_role="identity provider")

    scim = ScimService(adapters.profile_store, clock, settings.base_url, on_change=scim_changed)
    email_in = None
    if adapters.mail_ledger is not None and adapters.raw_mail is not None:
        from .services.email_in import EmailIngestService
        email_in = EmailIngestService(
            settings, adapters.mail_ledger, adapters.raw_mail,
            profile_store=adapters.profile_store, question_store=adapters.question_store,
            profiles=profiles, questions=questions, routing=routing, notifier=notifier,
            clock=clock, modules=modules)
    return Relais(settings=settings, clock=clock, profile_store=adapters.profile_store,
                  question_store=adapters.question_store, index=adapters.index,
                  embedder=embedder, mailer=adapters.mailer, tokens=adapters.tokens,
                  profiles=profiles, hr_sync=hr_sync, scim=scim, questions=questions,
                  routing=routing, notifier=notifier, indexer=indexer,
                  mail_ledger=adapters.mail_ledger, email_in=email_in,
                  audit=audit, modules=modules, communities=communities,
                  recognition=RecognitionService(settings, communities, adapters.question_store,
                                                 adapters.profile_store, clock, adapters.mailer,
                                                 audit),
                  figures=FiguresService(settings, communities, adapters.question_store,
                                         adapters.profile_store, clock),
                  privacy=PrivacyService(adapters.profile_store, adapters.question_store,
                                         adapters.community_store, adapters.votes, clock, audit,
                                         on_change=profile_changed,
                                         downloads=adapters.downloads,
                                         release_relays=lambda person_id: routing.mark_away(
                                             person_id, None)),
                  replay=PolicyReplay(routing, adapters.question_store, adapters.profile_store,
                                      profiles),
                  expertise=ExpertiseService(adapters.question_store, profiles, clock,
                                             routing.weights),
                  jobs=ScheduledJobs(routing, notifier, modules, settings.calendar, clock,
                                     adapters.mailer),
                  sign_in=OidcVerifier(
                      settings.oidc_issuer, settings.oidc_audience,
                      lambda email: adapters.profile_store.find(email=email),
                      person_claim=settings.oidc_person_claim,
                      roles_claim=settings.oidc_roles_claim) if settings.oidc_issuer else None)
