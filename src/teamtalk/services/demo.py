"""Demo data: a team to try Team Talk with on a fresh install."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.models import Role, Topic, User
from teamtalk.services.users import create_user

DEMO_PASSWORD = "teamtalk-demo"
DEMO_DOMAIN = "demo.teamtalk.local"
TOPICS = ("Billing", "Refunds", "Technical issue", "Account access", "Shipping")
PEOPLE = (
    ("admin", "Ada Admin", Role.ADMIN),
    ("lead1", "Lena Leader", Role.TEAMLEADER),
    ("lead2", "Luis Leader", Role.TEAMLEADER),
    ("lead3", "Lin Leader", Role.TEAMLEADER),
    ("agent1", "Alex Agent", Role.AGENT),
    ("agent2", "Ana Agent", Role.AGENT),
    ("agent3", "Amir Agent", Role.AGENT),
    ("agent4", "Aiko Agent", Role.AGENT),
    ("agent5", "Aaron Agent", Role.AGENT),
    ("agent6", "Ama Agent", Role.AGENT),
)


@dataclass(frozen=True)
class Login:
    email: str
    password: str
    role: Role


def demo_logins() -> list[Login]:
    return [Login(f"{handle}@{DEMO_DOMAIN}", DEMO_PASSWORD, role) for handle, _, role in PEOPLE]


async def is_empty(db: AsyncSession) -> bool:
    return (await db.scalar(select(func.count()).select_from(User))) == 0


async def active_demo_logins(db: AsyncSession) -> list[Login]:
    active = set(
        (
            await db.scalars(
                select(User.email).where(User.is_active, User.email.like(f"%@{DEMO_DOMAIN}"))
            )
        ).all()
    )
    return [login for login in demo_logins() if login.email in active]


async def add_demo_data(db: AsyncSession, capacity: int) -> list[Login]:
    """Adds the demo team and topics; what already exists is left alone."""
    existing = set((await db.scalars(select(User.email))).all())
    for handle, name, role in PEOPLE:
        email = f"{handle}@{DEMO_DOMAIN}"
        if email not in existing:
            await create_user(
                db,
                email=email,
                display_name=name,
                role=role,
                password=DEMO_PASSWORD,
                capacity=capacity,
            )
    have = set((await db.scalars(select(Topic.name))).all())
    db.add_all(Topic(name=name) for name in TOPICS if name not in have)
    await db.commit()
    return demo_logins()
