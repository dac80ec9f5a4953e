"""Swedish narration for the real-model tests and bench/speech.py, and words that tell the languages apart.

Plain sentences of the kind a lecture or a documentary says, spoken by espeak-ng (``-v sv``):
all 65 make about six minutes with the pauses between them. The tests use the first few; the
benchmark all.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

NARRATION = [
    "Välkommen till dagens föreläsning om maskininlärning och språk.",
    "Vi börjar med en kort historik och går sedan vidare till praktiska exempel.",
    "För femtio år sedan kunde datorer bara förstå mycket enkla kommandon.",
    "I dag kan en modell lyssna på ett samtal och skriva ner vad som sägs.",
    "Det kräver stora mängder data och mycket beräkningskraft.",
    "Modellen tränas på tusentals timmar inspelat tal från många olika språk.",
    "Varje ljudfil delas upp i korta bitar som är högst trettio sekunder långa.",
    "Sedan omvandlas ljudet till ett spektrogram som visar frekvenserna över tid.",
    "Kodaren läser spektrogrammet och bygger en inre representation av ljudet.",
    "Avkodaren skriver därefter texten ett ord i taget.",
    "Ibland gör modellen fel, särskilt när det finns mycket bakgrundsljud.",
    "Därför mäter vi hur många ord som blir fel i en testmängd.",
    "Det måttet kallas ordfelfrekvens och ju lägre det är desto bättre.",
    "Nu ska vi titta på hur samma teknik används i vardagen.",
    "Många människor använder röststyrning i bilen eller i köket.",
    "Journalister låter datorn skriva ut långa intervjuer på några minuter.",
    "Forskare kan söka i gamla radioprogram som ingen har lyssnat på på länge.",
    "Sverige har en lång tradition av folkbildning och öppna arkiv.",
    "Kungliga biblioteket i Stockholm samlar in allt som ges ut i landet.",
    "Där finns miljontals timmar av tal från radio och television.",
    "Med automatisk taligenkänning blir det materialet sökbart för alla.",
    "Låt oss nu prata om översättning mellan språk.",
    "En översättande modell lyssnar på svenska och skriver engelska direkt.",
    "Den behöver alltså inte först skriva ut den svenska texten.",
    "Det går snabbare, men resultatet kan bli mindre exakt.",
    "Namn och siffror är ofta svårast att få rätt.",
    "Vädret i norra Sverige är kallt under stora delar av året.",
    "På vintern är det mörkt nästan hela dagen i Kiruna.",
    "På sommaren går solen däremot inte ner alls under några veckor.",
    "Många turister reser dit för att se norrsken på himlen.",
    "Fjällen är fulla av vandringsleder, sjöar och små stugor.",
    "I södra Sverige är landskapet platt och passar bra för jordbruk.",
    "Skåne är känt för sina rapsfält som blommar gula i maj.",
    "Göteborg ligger på västkusten och har en stor hamn.",
    "Därifrån går fartyg till hela världen varje dag.",
    "Stockholm byggdes på fjorton öar där sjön Mälaren möter havet.",
    "Staden har många broar, museer och parker.",
    "Tunnelbanan kallas ofta världens längsta konstutställning.",
    "Varje station har målningar, skulpturer eller mosaiker.",
    "Nu återvänder vi till frågan om hur modeller lär sig.",
    "En modell lär sig genom att jämföra sina gissningar med rätt svar.",
    "Varje gång den har fel justeras vikterna en liten bit.",
    "Efter många miljoner sådana steg blir gissningarna allt bättre.",
    "Till slut kan modellen förstå även röster den aldrig har hört.",
    "Innan vi slutar vill jag berätta om ett projekt från förra året.",
    "En grupp studenter byggde en tjänst som översätter videoklipp automatiskt.",
    "Användaren skickar en länk i en chatt och får svaret några minuter senare.",
    "Först laddas ljudet ner och delas upp vid pauserna i talet.",
    "Därefter skickas bitarna till en server med ett kraftfullt grafikkort.",
    "Resultatet blir en textfil och en fil med undertexter.",
    "Undertexterna får inte vara för långa, annars hinner ingen läsa dem.",
    "En bra regel är högst två rader med fyrtiotvå tecken på varje rad.",
    "Varje textruta bör synas mellan en och sju sekunder.",
    "Studenterna märkte snart att modellen ibland upprepade samma mening.",
    "Det händer oftast när ljudet är tyst eller fullt av musik.",
    "De löste problemet genom att känna igen upprepningar och avkoda igen.",
    "Ett annat problem var att många ville använda tjänsten samtidigt.",
    "Då lade de jobben i en kö och startade fler arbetare.",
    "Varje arbetare laddar modellen en gång och behandlar sedan jobb efter jobb.",
    "På så sätt kunde tjänsten växa utan att någon behövde vänta länge.",
    "Projektet visar hur forskning och praktik kan mötas.",
    "Nästa vecka pratar vi om bilder och hur datorer känner igen dem.",
    "Läs gärna kapitel fyra i kursboken innan dess.",
    "Om ni har frågor kan ni skriva till mig eller komma till mitt kontor.",
    "Tack för att ni lyssnade, och välkomna tillbaka nästa vecka.",
]

# Frequent words of each language that the other does not use: /translate output is checked with them.
ENGLISH_FUNCTION_WORDS = frozenset(
    "the a an of and to in is are was were it that this for on with as by at from be have has had "
    "not but or we you they he she his her their our its can will would there which what who when "
    "so if do does did than then into about also all more many some very".split()
)
SWEDISH_FUNCTION_WORDS = frozenset(
    "och att det som en ett på är av för med har de inte om var jag sig från vi så kan när år hon "
    "också efter eller nu där vid mot ska skulle kommer ut får finns vara hade alla andra mycket än "
    "här då sedan över bara blir upp även vad två vill många hur mer går detta hans utan något allt "
    "måste mellan blev bli någon några dem genom hela gör ingen mig redan kom du helt samma kanske "
    "själv oss denna både varje sätt väl åt mest står ofta dit".split()
)


def speak_narration(sentences: list[str], path: Path, pause_s: float = 0.8) -> Path:
    """The sentences spoken one after another with ``pause_s`` of silence after each, as a WAV file."""
    with tempfile.TemporaryDirectory(prefix="narration-") as scratch, wave.open(str(path), "wb") as out:
        for index, sentence in enumerate(sentences):
            part = Path(scratch) / f"{index}.wav"
            subprocess.run(["espeak-ng", "-v", "sv", "-s", "150", "-w", str(part), sentence], check=True)
            with wave.open(str(part), "rb") as spoken:
                if index == 0:
                    out.setparams(spoken.getparams())
                out.writeframes(spoken.readframes(spoken.getnframes()))
                silence = int(spoken.getframerate() * pause_s) * spoken.getsampwidth() * spoken.getnchannels()
                out.writeframes(bytes(silence))
    return path
