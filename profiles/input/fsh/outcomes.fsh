// Outcome reporting for those who fund Welzijn op Recept (src/reports/).

CodeSystem: WorOutcomeFigure
Id: wor-outcome-figure
Title: "Welzijn op Recept outcome figures"
Description: "The figures of the wor-outcomes Measure, one MeasureReport group each."
* ^url = "https://wor-bridge.nl/fhir/CodeSystem/wor-outcome-figure"
* ^status = #active
* ^content = #complete
* ^caseSensitive = true
* #received "Verwijzingen ontvangen" "Referrals the team received in the period (by the date its Task was created)."
* #accepted "Aangenomen" "Of those, referrals the team accepted."
* #rejected "Afgewezen" "Of those, referrals the team rejected, stratified by the coded reason (free-text reasons count as uncoded)."
* #picked-up-in-time "Binnen de oppaktermijn beantwoord" "Referrals answered (accepted or rejected) by the pick-up deadline, of those with one."
* #contact-in-time "Eerste contact binnen de WoR-belofte" "Accepted referrals whose first contact (business status contact-made or later) came by the contact deadline."
* #completed "Traject afgerond" "Referrals whose Task is completed."
* #failed "Traject mislukt" "Referrals whose Task failed."
* #days-to-contact-median "Werkdagen tot eerste contact (mediaan)" "Median of the Dutch working days from receipt to first contact."
* #days-to-contact-p90 "Werkdagen tot eerste contact (90e percentiel)" "90th percentile (nearest rank) of the Dutch working days from receipt to first contact."
* #arrangements-started "Arrangementen gestart" "Referrals for which the coach reported at least one arrangement, stratified by arrangement."

CodeSystem: WorOutcomeStratifier
Id: wor-outcome-stratifier
Title: "Welzijn op Recept outcome stratifiers"
Description: "What the outcome figures are broken down by."
* ^url = "https://wor-bridge.nl/fhir/CodeSystem/wor-outcome-stratifier"
* ^status = #active
* ^content = #complete
* ^caseSensitive = true
* #practice "Verwijzende praktijk (AGB)"
* #icpc-chapter "ICPC-hoofdstuk van de reden"
* #rejection-reason "Reden van afwijzing (code)"
* #arrangement "Arrangement"

Instance: wor-outcomes
InstanceOf: Measure
Usage: #definition
Title: "Welzijn op Recept: verwijzingen en uitkomsten per wijkteam"
* url = "https://wor-bridge.nl/fhir/Measure/wor-outcomes"
* version = "1"
* name = "WorOutcomes"
* title = "Welzijn op Recept: verwijzingen en uitkomsten per wijkteam"
* status = #active
* experimental = false
* publisher = "wor-bridge"
* description = "Referrals a team received in a period (by the date its Task was created), what became of them and how fast. Counts from 1 up to the configured minimum (REPORT_MINIMUM_COUNT, default 5) are not published (data-absent-reason masked), nor a figure in working days behind fewer referrals; where one stratum is masked the next smallest is masked too, so it cannot be worked out by subtraction."
* subjectCodeableConcept = http://hl7.org/fhir/resource-types#Organization
* scoring = http://terminology.hl7.org/CodeSystem/measure-scoring#cohort
* group[0].code = WorOutcomeFigure#received
* group[0].stratifier[0].code = WorOutcomeStratifier#practice
* group[0].stratifier[1].code = WorOutcomeStratifier#icpc-chapter
* group[1].code = WorOutcomeFigure#accepted
* group[1].stratifier[0].code = WorOutcomeStratifier#practice
* group[1].stratifier[1].code = WorOutcomeStratifier#icpc-chapter
* group[2].code = WorOutcomeFigure#rejected
* group[2].stratifier[0].code = WorOutcomeStratifier#practice
* group[2].stratifier[1].code = WorOutcomeStratifier#icpc-chapter
* group[2].stratifier[2].code = WorOutcomeStratifier#rejection-reason
* group[3].code = WorOutcomeFigure#picked-up-in-time
* group[4].code = WorOutcomeFigure#contact-in-time
* group[5].code = WorOutcomeFigure#completed
* group[5].stratifier[0].code = WorOutcomeStratifier#practice
* group[5].stratifier[1].code = WorOutcomeStratifier#icpc-chapter
* group[6].code = WorOutcomeFigure#failed
* group[6].stratifier[0].code = WorOutcomeStratifier#practice
* group[6].stratifier[1].code = WorOutcomeStratifier#icpc-chapter
* group[7].code = WorOutcomeFigure#days-to-contact-median
* group[8].code = WorOutcomeFigure#days-to-contact-p90
* group[9].code = WorOutcomeFigure#arrangements-started
* group[9].stratifier[0].code = WorOutcomeStratifier#practice
* group[9].stratifier[1].code = WorOutcomeStratifier#icpc-chapter
* group[9].stratifier[2].code = WorOutcomeStratifier#arrangement

Profile: WorOutcomeReport
Parent: MeasureReport
Id: wor-outcome-report
Title: "wor-bridge outcome report"
Description: "A summary of the wor-outcomes Measure for one team and period. Counts that could single a patient out are absent with data-absent-reason masked."
* ^url = "https://wor-bridge.nl/fhir/StructureDefinition/wor-outcome-report"
* status = #complete
* type = #summary
* measure = "https://wor-bridge.nl/fhir/Measure/wor-outcomes"
* subject 1..1
* subject only Reference(Organization)
* period 1..1
* group 1..*
* group.code 1..1
* group.code from WorOutcomeFigureVS (required)

ValueSet: WorOutcomeFigureVS
Id: wor-outcome-figure
Title: "Welzijn op Recept outcome figures"
Description: "All codes of the wor-outcome-figure CodeSystem."
* ^url = "https://wor-bridge.nl/fhir/ValueSet/wor-outcome-figure"
* ^status = #active
* include codes from system WorOutcomeFigure
